"""The catalog's default chat model and its card page: licence, openness, pins, usage."""

import pytest
from django.urls import reverse

from gateway.models import ModelCard
from tests.support.factories import UserFactory
from tests.support.gateway import ENGINE_VERSION, SMOLLM2, SMOLLM2_SHA256, smollm2_card


@pytest.mark.django_db
def test_the_migrations_add_smollm2_fully_open_and_pinned():
    card = ModelCard.objects.get(name=SMOLLM2)
    assert (card.kind, card.backend, card.license) == ("chat", "llama_cpp", "Apache-2.0")
    assert card.openness == "open_source" and card.all_courses
    assert (card.model_sha256, card.engine_version) == (SMOLLM2_SHA256, ENGINE_VERSION)


@pytest.mark.django_db
def test_the_card_page_shows_licence_openness_and_pins_in_english_and_french(client):
    smollm2_card(description="A small open model.")
    client.force_login(UserFactory())
    page = client.get(reverse("gateway:model_card", args=[SMOLLM2]))
    assert page.status_code == 200
    for fact in (SMOLLM2_SHA256, ENGINE_VERSION, "Apache-2.0", "A small open model."):
        assert fact in page.text
    assert 'open_models.chat("' in page.text
    listing = client.get(reverse("gateway:models")).text
    assert reverse("gateway:model_card", args=[SMOLLM2]) in listing
    french = client.get(reverse("gateway:model_card", args=[SMOLLM2]), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Moteur (épinglé)" in french.text


@pytest.mark.django_db
def test_a_model_not_enabled_for_the_person_has_no_card(client):
    smollm2_card(all_courses=False)
    client.force_login(UserFactory())
    assert client.get(reverse("gateway:model_card", args=[SMOLLM2])).status_code == 404
