"""The LTI models in the Django admin: every list, search, filter and row renders for a
superuser, and nobody else gets them; protocol fields cannot be edited, private keys are
never shown, and the two actions (revoke, send again) go through the services."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campus.models import AuditLog
from lti import keys
from lti.models import (
    Context,
    Deployment,
    PlatformAccount,
    Registration,
    ResourceLink,
    ScorePost,
    ScoreStatus,
    ToolKey,
)
from tests.lti.conftest import Campus, launch
from tests.support.factories import UserFactory
from tests.support.lti_platform import Platform

pytestmark = pytest.mark.django_db

MODELS = {
    "registration": Registration,
    "deployment": Deployment,
    "toolkey": ToolKey,
    "platformaccount": PlatformAccount,
    "context": Context,
    "resourcelink": ResourceLink,
    "scorepost": ScorePost,
}


@pytest.fixture
def launched(platform: Platform, campus: Campus, client: Client) -> Campus:
    """A launch (account, LMS course, link) and a score waiting to be sent."""
    launch(platform, Client(), user_id="learner-1", target=campus.exercise_url())
    keys.signing_key()
    ScorePost.objects.create(
        link=ResourceLink.objects.get(),
        account=PlatformAccount.objects.get(),
        score=Decimal(4),
        max_score=Decimal(5),
        timestamp=timezone.now(),
        status=ScoreStatus.FAILED,
        error="503 from the LMS",
    )
    return campus


def superuser_client() -> Client:
    client = Client()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_sees_each_list_searched_filtered_and_each_row(
    launched: Campus, model: str
) -> None:
    client = superuser_client()
    changelist = reverse(f"admin:lti_{model}_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    assert "0 results" not in page.content.decode()
    assert client.get(changelist, {"q": "learner"}).status_code == 200
    for spec in page.context["cl"].filter_specs:
        for choice in spec.choices(page.context["cl"]):
            assert client.get(changelist + choice["query_string"]).status_code == 200
    row = MODELS[model].objects.first()
    assert row is not None
    change = client.get(reverse(f"admin:lti_{model}_change", args=[row.pk]))
    assert change.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_nobody_else_gets_the_lti_admin(launched: Campus, model: str) -> None:
    row = MODELS[model].objects.first()
    assert row is not None
    urls = [
        reverse(f"admin:lti_{model}_changelist"),
        reverse(f"admin:lti_{model}_change", args=[row.pk]),
    ]
    staff = Client()
    staff.force_login(UserFactory.create(is_staff=True))  # staff without permissions
    member = Client()
    member.force_login(UserFactory.create())
    for url in urls:
        assert staff.get(url).status_code == 403
        for client in (member, Client()):
            response = client.get(url)
            assert response.status_code == 302
            assert "/admin/login/" in response["Location"]


def test_the_protocol_fields_are_read_only(launched: Campus) -> None:
    client = superuser_client()
    registration = launched.registration
    url = reverse("admin:lti_registration_change", args=[registration.pk])
    # when: an attempt to move the registration to another issuer and client
    client.post(
        url,
        {
            "name": "Renamed",
            "issuer": "https://evil.example",
            "client_id": "other",
            "deployments_open": "on",
            "deployments-TOTAL_FORMS": "0",
            "deployments-INITIAL_FORMS": "1",
        },
    )
    # then: our own settings changed, the protocol's did not
    registration.refresh_from_db()
    assert (registration.name, registration.deployments_open) == ("Renamed", True)
    assert registration.issuer != "https://evil.example"
    assert registration.client_id != "other"
    for model in ("deployment", "platformaccount", "context", "resourcelink", "scorepost"):
        row = MODELS[model].objects.first()
        assert row is not None
        page = client.get(reverse(f"admin:lti_{model}_change", args=[row.pk]))
        assert 'type="submit" value="Save"' not in page.content.decode()
    assert client.get(reverse("admin:lti_registration_add")).status_code == 403
    key = ToolKey.objects.first()
    assert key is not None
    assert client.post(reverse("admin:lti_toolkey_delete", args=[key.pk])).status_code == 403


def test_the_private_key_is_never_shown(launched: Campus) -> None:
    client = superuser_client()
    key = ToolKey.objects.get()
    page = client.get(reverse("admin:lti_toolkey_change", args=[key.pk])).content.decode()
    assert key.kid in page
    body = key.private_key_pem.splitlines()[1]
    assert body not in page
    assert "PRIVATE KEY" not in page


def test_revoking_from_the_admin_is_audited(launched: Campus) -> None:
    client = superuser_client()
    admin_user = client.session["_auth_user_id"]
    client.post(
        reverse("admin:lti_registration_changelist"),
        {"action": "revoke", "_selected_action": [launched.registration.pk]},
    )
    launched.registration.refresh_from_db()
    assert not launched.registration.active
    entry = AuditLog.objects.get(action="lti_revoked")
    assert (str(entry.actor_id), entry.target_id) == (admin_user, launched.registration.pk)


def test_sending_a_score_again_from_the_admin(launched: Campus) -> None:
    client = superuser_client()
    post = ScorePost.objects.get()
    client.post(
        reverse("admin:lti_scorepost_changelist"),
        {"action": "resend", "_selected_action": [post.pk]},
    )
    post.refresh_from_db()
    assert (post.status, post.error) == (ScoreStatus.PENDING, "")
