"""People over TCP (personal tokens, web sessions), the token page, and the openai client."""

import os

import pytest
from django.urls import reverse

from gateway.models import ApiToken, BackendKind, Usage
from gateway.services import grant_register, token_create, token_revoke, usage_flush
from tests.support.factories import CourseFactory, UserFactory
from tests.support.gateway import MINILM, chat_card

pytestmark = pytest.mark.xdist_group("gateway-models")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_personal_token_works_over_tcp_until_it_is_revoked(gateway):
    user = UserFactory()
    api_token, token = token_create(user=user, name="laptop")
    status, body = gateway.call("GET", "/v1/models", via="tcp", headers=bearer(token))
    assert status == 200 and [m["id"] for m in body["data"]] == [MINILM]

    token_revoke(user=user, token_id=api_token.id)
    gateway.process.gateway._cache.clear()  # the gateway caches a token for CACHE_S seconds
    status, body = gateway.call("GET", "/v1/models", via="tcp", headers=bearer(token))
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


def test_tcp_without_credentials_or_with_a_wrong_token_is_401(gateway):
    assert gateway.call("GET", "/v1/models", via="tcp")[0] == 401
    assert gateway.call("GET", "/v1/models", via="tcp", headers=bearer("osk_nope"))[0] == 401


def test_only_a_digest_of_the_token_is_stored(db):
    api_token, token = token_create(user=UserFactory(), name="ci")
    stored = ApiToken.objects.filter(pk=api_token.pk).values().get()
    assert token not in {str(v) for v in stored.values()}
    assert token.startswith(stored["prefix"])


def test_a_logged_in_web_session_may_call_the_gateway(gateway, client):
    user = UserFactory()
    client.force_login(user)
    cookie = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    status, _ = gateway.call(
        "POST", "/v1/embeddings", {"model": MINILM, "input": "x"}, via="tcp", headers=cookie
    )
    assert status == 200
    # a cross-site form cannot send JSON without CORS: plain-text posts are refused
    status, _ = gateway.call(
        "POST",
        "/v1/embeddings",
        {"model": MINILM, "input": "x"},
        via="tcp",
        headers=cookie | {"Content-Type": "text/plain"},
    )
    assert status == 400


def test_the_token_page_shows_a_new_token_once_and_revokes_it(client, db):
    user = UserFactory()
    client.force_login(user)
    page = client.post(reverse("gateway:token_create"), {"name": "laptop"})
    token = page.context["new_token"]
    assert token in page.text and "all-MiniLM-L6-v2" in page.text and "Apache-2.0" in page.text
    assert token not in client.get(reverse("gateway:models")).text
    api_token = ApiToken.objects.get(user=user)
    client.post(reverse("gateway:token_revoke", args=[api_token.pk]))
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None


def test_nobody_revokes_someone_elses_token(db):
    api_token, _ = token_create(user=UserFactory(), name="mine")
    assert token_revoke(user=UserFactory(), token_id=api_token.id) is False


def test_the_openai_client_works_unchanged_with_a_token(gateway, tiny_lm_dir):
    import numpy as np
    import openai

    chat_card("tiny-gpt2", backend=BackendKind.HF_CAUSAL, location=str(tiny_lm_dir))
    user = UserFactory()
    _, token = token_create(user=user, name="openai")
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{gateway.port}/v1", api_key=token, max_retries=0
    )

    assert {m.id for m in client.models.list()} == {MINILM, "tiny-gpt2"}
    result = client.embeddings.create(model=MINILM, input=["cells divide", "cells split in two"])
    a, b = (np.array(item.embedding) for item in result.data)
    assert a.shape == (384,) and a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.5
    stream = client.chat.completions.create(
        model="tiny-gpt2",
        messages=[{"role": "user", "content": "the data"}],
        max_tokens=4,
        temperature=0,
        stream=True,
    )
    assert len("".join(c.choices[0].delta.content or "" for c in stream if c.choices).split()) == 4
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nope", input="x")

    usage_flush()
    rows = {(u.model.name, u.course_id): u.requests for u in Usage.objects.filter(user=user)}
    assert rows == {(MINILM, None): 1, ("tiny-gpt2", None): 1}


def test_the_learner_module_sets_up_openai_over_the_socket(gateway, monkeypatch):
    import openai

    from gateway.learner_client import open_models

    user = UserFactory()
    grant_register(uid=os.getuid(), user_id=user.id, course_id=CourseFactory().id, ttl_s=60)
    monkeypatch.setattr(open_models, "SOCKET", str(gateway.socket))
    for name in ("base_url", "api_key", "http_client"):
        monkeypatch.setattr(openai, name, getattr(openai, name))
    assert open_models.configure_openai()

    result = openai.embeddings.create(model=MINILM, input="Photosynthesis makes sugar.")
    assert len(result.data[0].embedding) == 384
    vectors = open_models.embed(["a cat", "a kitten", "tax law"])
    assert open_models.cosine(vectors[0], vectors[1]) > open_models.cosine(vectors[0], vectors[2])
    assert [m.id for m in open_models.OpenAI().models.list()] == [MINILM]


def test_the_models_page_speaks_french(client, db):
    client.force_login(UserFactory())
    page = client.get(reverse("gateway:models"), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Modèles ouverts" in page.text and "Créer un jeton" in page.text


def test_a_personal_token_is_charged_to_the_learners_cohort_quota_and_refused_past_it(gateway):
    # given a learner of a cohort allowing 20 model tokens a day, with a personal token
    from courses.cohorts.quotas import QuotaKind, quota_usage
    from courses.models import CohortQuota
    from tests.support.factories import EnrollmentFactory

    enrollment = EnrollmentFactory()
    CohortQuota.objects.create(cohort=enrollment.cohort, model_tokens_per_day=20)
    _, token = token_create(user=enrollment.user, name="laptop")
    # (over 20 tokens: one call spends the whole allowance)
    text = "A sentence long enough to use all of a twenty-token daily allowance at once, " * 2

    # when they embed with the token, which names no course, until the allowance is gone
    def embed() -> tuple[int, dict]:
        payload = {"model": MINILM, "input": text}
        return gateway.call("POST", "/v1/embeddings", payload, via="tcp", headers=bearer(token))

    first_status, _ = embed()
    replies = [embed() for _ in range(3)]
    # then the tokens were counted in the cohort's quota, and calls past it get the 429
    used = quota_usage(user=enrollment.user, cohort=enrollment.cohort, kind=QuotaKind.MODEL_TOKENS)
    assert first_status == 200
    assert used.used >= 20
    refused = [body for status, body in replies if status == 429]
    assert len(refused) == 3
    assert "model tokens for today" in refused[0]["error"]["message"]
