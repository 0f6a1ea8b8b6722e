"""The catalog, tokens and usage in the admin."""

import pytest
from django.urls import reverse

from gateway.services import token_create
from tests.support.factories import UserFactory
from tests.support.gateway import minilm_card

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["modelcard", "apitoken", "usage"])
def test_staff_can_list_each_gateway_model_in_the_admin(client, model):
    admin = UserFactory(is_staff=True, is_superuser=True)
    minilm_card()
    token_create(user=admin, name="laptop")
    client.force_login(admin)
    page = client.get(reverse(f"admin:gateway_{model}_changelist"))
    assert page.status_code == 200


def test_the_admin_never_shows_a_token_digest(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    api_token, _ = token_create(user=admin, name="laptop")
    client.force_login(admin)
    page = client.get(reverse("admin:gateway_apitoken_change", args=[api_token.pk]))
    assert page.status_code == 200 and api_token.digest not in page.text
