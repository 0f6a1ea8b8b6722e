"""The admin signs in through allauth's rate-limited form; Django admin's own form is gone."""

import uuid

import pytest
from django.test import Client

from tests.support.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    # Rate limits count per address: each test comes from an address of its own.
    return Client(REMOTE_ADDR=f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7")


@pytest.fixture
def superuser():
    return UserFactory(
        email=f"root-{uuid.uuid4().hex[:8]}@example.org", is_staff=True, is_superuser=True
    )


def test_the_admin_login_form_never_checks_a_password(client, superuser) -> None:
    # given an attacker guessing the superuser's password on /admin/login/
    for attempt in range(15):
        client.post("/admin/login/", {"username": superuser.email, "password": f"guess{attempt}"})
    # when the right password is sent there too
    response = client.post(
        "/admin/login/?next=/admin/", {"username": superuser.email, "password": PASSWORD}
    )
    # then no session: the form is allauth's, elsewhere
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_staff_sign_in_is_rate_limited_like_everyone(client, superuser) -> None:
    for attempt in range(6):
        client.post("/accounts/login/", {"login": superuser.email, "password": f"guess{attempt}"})
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": superuser.email, "password": PASSWORD}
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)


def test_staff_reach_the_admin_through_the_sites_login(client, superuser) -> None:
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": superuser.email, "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/?next=/admin/auth/").headers["Location"] == "/admin/auth/"


def test_a_signed_in_person_who_is_not_staff_is_refused(client) -> None:
    client.force_login(UserFactory())
    assert client.get("/admin/login/?next=/admin/").status_code == 403
    assert client.get("/admin/login/?next=https://evil.example/").status_code == 403
