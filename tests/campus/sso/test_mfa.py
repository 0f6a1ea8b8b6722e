"""MFA (allauth.mfa): available to everyone, required by setting for staff roles."""

import types

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal import auth as totp_auth
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)

from campus.models import Role
from tests.support.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _code(secret: str) -> str:
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))


@pytest.fixture(autouse=True)
def frozen_totp_clock(monkeypatch) -> None:
    """A code and its check must fall in the same 30 s window, whatever the machine's pace."""
    monkeypatch.setattr(totp_auth, "time", types.SimpleNamespace(time=lambda: 1_800_000_015))


@pytest.fixture
def required(settings) -> None:
    settings.MFA_REQUIRED_FOR_STAFF = True


@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.TA, Role.ORG_ADMIN])
def test_staff_roles_must_set_up_a_second_factor_first(client, required, role) -> None:
    membership = MembershipFactory(role=role)
    client.post("/accounts/login/", {"login": membership.user.email, "password": PASSWORD})
    response = client.get("/courses/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert client.get("/accounts/2fa/").status_code == 200
    # allauth asks for the password again before a factor is added; that page stays open
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200


def test_superusers_must_set_up_a_second_factor_first(client, required) -> None:
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get("/courses/")["Location"] == "/accounts/2fa/"


def test_students_are_not_forced(client, required) -> None:
    client.force_login(MembershipFactory(role=Role.STUDENT).user)
    assert client.get("/courses/").status_code == 200


def test_the_requirement_is_off_unless_set(client) -> None:
    client.force_login(MembershipFactory(role=Role.INSTRUCTOR).user)
    assert client.get("/courses/").status_code == 200


def test_staff_with_totp_pass_and_login_asks_for_the_code(client, required) -> None:
    # given an instructor with an authenticator app
    instructor = MembershipFactory(role=Role.INSTRUCTOR).user
    secret = generate_totp_secret()
    TOTP.activate(instructor, secret)
    # when they log in with their password
    response = client.post("/accounts/login/", {"login": instructor.email, "password": PASSWORD})
    # then the code is asked before they are in
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    client.post("/accounts/2fa/authenticate/", {"code": _code(secret)})
    assert client.session["_auth_user_id"] == str(instructor.pk)
    assert client.get("/courses/").status_code == 200


def test_a_recovery_code_signs_in_once(client) -> None:
    user = UserFactory()
    TOTP.activate(user, generate_totp_secret())
    code = RecoveryCodes.activate(user).get_unused_codes()[0]
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": code})
    assert client.session["_auth_user_id"] == str(user.pk)
    client.logout()
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": code})
    assert "_auth_user_id" not in client.session


def test_webauthn_is_offered_to_everyone(client) -> None:
    client.force_login(UserFactory())
    page = client.get("/accounts/2fa/").content.decode()
    assert "/accounts/2fa/webauthn/" in page
    assert "/accounts/2fa/totp/activate/" in page
