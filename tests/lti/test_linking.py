"""Linking an LMS identity to an account the person already has here: offered after the
first launch, done by signing in once, audited; never by email, never without the
password, never onto an account another user of the same LMS already holds."""

import secrets
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from campus.models import AuditLog, User
from courses.models import Enrollment
from lti.models import PlatformAccount
from tests.lti.conftest import Campus, launch
from tests.support.factories import UserFactory
from tests.support.lti_platform import LEARNER, Member, Platform

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def browser() -> Client:
    """A browser of its own address: the sign-in rate limits count per address too, and
    other tests of this process fail sign-ins from the default one."""
    return Client(REMOTE_ADDR=f"198.51.100.{secrets.randbelow(250) + 1}")


def local_account(email: str) -> User:
    """Someone who signed up here with an email and a password (address confirmed)."""
    user = UserFactory.create(email=email, name="Ada (here)")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def logged_in_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def link(client: Client, email: str, password: str = PASSWORD, next_url: str = "/") -> Any:
    return client.post(
        "/lti/link/", {"email": email, "password": password, "code": "", "next": next_url}
    )


def test_the_first_launch_offers_linking_and_still_lands_on_the_exercise(
    platform: Platform, campus: Campus
) -> None:
    client = browser()
    response = launch(platform, client, target=campus.exercise_url())
    assert response["Location"] == campus.exercise_url().removeprefix("http://testserver")
    page = client.get(response["Location"]).content.decode()
    assert "Sign in to link it to your LMS account." in page
    assert "/lti/link/?next=" in page
    # a later launch of the same person does not ask again
    again = browser()
    launch(platform, again, target=campus.exercise_url())
    assert "Sign in to link it" not in again.get(campus.exercise_url()).content.decode()
    # and the page itself offers the sign-in
    offer = client.get("/lti/link/?next=/courses/").content.decode()
    assert "You already have an account here?" in offer


def test_signing_in_once_links_the_lms_identity_to_the_account(
    platform: Platform, campus: Campus
) -> None:
    # given
    mine = local_account("ada-link@uni.example")
    client = browser()
    launch(platform, client, target=campus.exercise_url())
    lms_user = PlatformAccount.objects.get(sub="learner-1").user
    # when
    response = link(client, "ada-link@uni.example", next_url="/courses/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/courses/"
    assert logged_in_id(client) == str(mine.pk)
    assert PlatformAccount.objects.get(sub="learner-1").user == mine
    assert Enrollment.objects.get(user=mine).cohort.course == campus.course
    lms_user.refresh_from_db()
    assert not lms_user.is_active
    entry = AuditLog.objects.get(action="lti_account_linked")
    assert (entry.actor, entry.target_user, entry.details["sub"]) == (mine, mine, "learner-1")
    assert entry.details["via"] == f"lti:{campus.registration.pk}"
    # and the next launch opens that account, keeping the name its owner gave it
    later = browser()
    launch(platform, later, target=campus.exercise_url())
    assert logged_in_id(later) == str(mine.pk)
    mine.refresh_from_db()
    assert mine.name == "Ada (here)"


def test_a_wrong_password_links_nothing(platform: Platform, campus: Campus) -> None:
    # given: the LMS even claims the victim's address for its user
    victim = local_account("victim-link@uni.example")
    platform.add_member("ctx-1", Member("attacker", LEARNER, email="victim-link@uni.example"))
    client = browser()
    launch(platform, client, user_id="attacker", target=campus.exercise_url())
    attacker = PlatformAccount.objects.get(sub="attacker").user
    # when
    response = link(client, "victim-link@uni.example", password="guess")
    # then
    assert response.status_code == 200
    assert "The email address or the password is not right." in response.content.decode()
    assert PlatformAccount.objects.get(sub="attacker").user == attacker
    assert logged_in_id(client) == str(attacker.pk)
    assert not Enrollment.objects.filter(user=victim).exists()
    assert not AuditLog.objects.filter(action="lti_account_linked").exists()


def test_an_account_another_user_of_the_same_lms_holds_cannot_be_taken(
    platform: Platform, campus: Campus
) -> None:
    # given: the account is linked to learner-2 of this LMS
    mine = local_account("shared-link@uni.example")
    first = browser()
    launch(platform, first, user_id="learner-2", target=campus.exercise_url())
    assert link(first, "shared-link@uni.example").status_code == 302
    # when: learner-1 of the same LMS signs in with that account (the password leaked)
    second = browser()
    launch(platform, second, user_id="learner-1", target=campus.exercise_url())
    response = link(second, "shared-link@uni.example")
    # then
    assert response.status_code == 200
    assert "already linked to another user of this LMS" in response.content.decode()
    assert PlatformAccount.objects.get(sub="learner-1").user != mine
    assert PlatformAccount.objects.get(sub="learner-2").user == mine
    assert AuditLog.objects.filter(action="lti_account_linked").count() == 1


def test_only_a_launched_lms_account_can_link(platform: Platform, campus: Campus) -> None:
    mine = local_account("own-link@uni.example")
    someone = browser()
    someone.force_login(UserFactory.create())
    # a session that no launch made is sent on, and its post links nothing
    assert someone.get("/lti/link/?next=/courses/")["Location"] == "/courses/"
    assert link(someone, "own-link@uni.example").status_code == 302
    assert not PlatformAccount.objects.filter(user=mine).exists()
    # nobody signed in: the sign-in page
    assert "/accounts/login/" in browser().get("/lti/link/")["Location"]


def test_next_never_leaves_the_site(platform: Platform, campus: Campus) -> None:
    client = browser()
    launch(platform, client, target=campus.exercise_url())
    page = client.get("/lti/link/?next=https://evil.example/").content.decode()
    assert 'name="next" value="/courses/"' in page
    assert 'href="https://evil.example/"' not in page


def test_guessing_passwords_here_counts_like_the_sign_in_page(
    platform: Platform, campus: Campus
) -> None:
    mine = local_account("guessed-link@uni.example")
    client = browser()
    launch(platform, client, target=campus.exercise_url())
    for _ in range(5):
        link(client, "guessed-link@uni.example", password="wrong")
    response = link(client, "guessed-link@uni.example")
    assert "Too many failed sign-ins" in response.content.decode()
    assert not PlatformAccount.objects.filter(user=mine).exists()
