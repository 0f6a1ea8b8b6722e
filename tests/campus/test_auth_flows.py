import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from campus.models import User
from tests.support.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _link_in_last_mail() -> str:
    match = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_signup_requires_verifying_the_email_before_logging_in(client) -> None:
    # given a new person signs up
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New.Person@Example.org",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="new.person@example.org")
    assert len(mail.outbox) == 1
    # greeted by the platform's name, not the host's address
    assert mail.outbox[0].body.startswith("Hello from Open Science Training!")
    # then they cannot use the platform yet
    assert client.get("/courses/").status_code == 302
    # when they follow the link in the email
    confirm_path = _link_in_last_mail()
    assert client.get(confirm_path).status_code == 200
    client.post(confirm_path)
    # then the address is verified and logging in works
    assert user.emailaddress_set.get().verified
    client.logout()
    response = client.post(
        "/accounts/login/", {"login": "new.person@example.org", "password": "a-long-passphrase-9"}
    )
    assert response.status_code == 302
    assert client.get("/courses/").status_code == 200


def test_signup_rejects_a_weak_password_with_a_clear_message(client) -> None:
    response = client.post(
        "/accounts/signup/", {"email": "new@example.org", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert "This password is too short." in response.text
    assert not User.objects.filter(email="new@example.org").exists()


def test_signup_with_a_taken_email_creates_nothing_and_does_not_reveal_the_account(client) -> None:
    # allauth prevents account enumeration: the page looks like a normal signup, and the
    # owner of the address is told by email instead.
    UserFactory(email="taken@example.org")
    response = client.post(
        "/accounts/signup/",
        {
            "email": "taken@example.org",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(email="taken@example.org").count() == 1
    assert mail.outbox[-1].to == ["taken@example.org"]
    assert "already" in mail.outbox[-1].body.lower()


def test_login_with_the_right_password_and_not_with_a_wrong_one(client) -> None:
    user = UserFactory()
    bad = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    assert bad.status_code == 200
    assert "not correct" in bad.text
    good = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert good.status_code == 302
    assert good["Location"] == "/courses/"


def test_password_reset_by_email(client) -> None:
    user = UserFactory()
    client.post("/accounts/password/reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    reset_path = _link_in_last_mail()
    form_page = client.get(reset_path, follow=True)
    assert form_page.status_code == 200
    set_path = form_page.redirect_chain[-1][0] if form_page.redirect_chain else reset_path
    done = client.post(
        set_path, {"password1": "brand-new-passphrase-1", "password2": "brand-new-passphrase-1"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-passphrase-1")


def test_logout_ends_the_session(client) -> None:
    user = UserFactory()
    client.force_login(user)
    assert client.get("/courses/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/courses/").status_code == 302


def test_account_pages_use_the_platform_layout_in_french(client) -> None:
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert 'id="main"' in page.text
    assert "Mes cours" not in page.text  # anonymous: no course navigation
    assert "Connexion" in page.text or "Se connecter" in page.text


def test_an_address_another_account_verified_cannot_be_added(client) -> None:
    # given an attacker who knows the victim's address
    UserFactory(email="victim@univ.example")
    attacker = UserFactory(email="attacker@example.org")
    client.force_login(attacker)
    # when they add it to their own account
    response = client.post("/accounts/email/", {"action_add": "", "email": "Victim@Univ.example"})
    # then it is refused and nothing is stored
    assert response.status_code == 200
    assert "belongs to another account" in response.text
    assert not EmailAddress.objects.filter(user=attacker, email__iexact="victim@univ.example")


def test_a_free_address_can_still_be_added(client) -> None:
    client.force_login(UserFactory(email="me@example.org"))
    response = client.post("/accounts/email/", {"action_add": "", "email": "second@example.org"})
    assert response.status_code == 302
    assert EmailAddress.objects.filter(email="second@example.org", verified=False).exists()
