import re

import pytest
from django.core import mail

from campus.models import AuditAction, AuditLog, EmailDomain, Membership, Role, User
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def _signup_and_confirm(client, email: str) -> User:
    client.post(
        "/accounts/signup/",
        {"email": email, "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"},
    )
    match = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body)
    assert match
    client.post(match.group(1))
    return User.objects.get(email=email.lower())


def test_verifying_a_university_address_joins_that_university_as_a_student(client) -> None:
    # given a university that owns univ.example
    organization = OrganizationFactory()
    EmailDomain.objects.create(organization=organization, domain="univ.example")
    # when someone signs up with an address there and verifies it
    user = _signup_and_confirm(client, "Grace@Univ.Example")
    # then they are a student of that university, and the log says how
    membership = Membership.objects.get(user=user)
    assert membership.organization == organization
    assert membership.role == Role.STUDENT
    entry = AuditLog.objects.get(action=AuditAction.MEMBER_JOINED)
    assert entry.target_user == user
    assert entry.details["via"] == "email_domain:univ.example"


def test_signing_up_without_verifying_joins_nothing(client) -> None:
    EmailDomain.objects.create(organization=OrganizationFactory(), domain="univ.example")
    client.post(
        "/accounts/signup/",
        {
            "email": "lazy@univ.example",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert not Membership.objects.exists()


def test_an_address_outside_every_university_domain_joins_nothing(client) -> None:
    EmailDomain.objects.create(organization=OrganizationFactory(), domain="univ.example")
    _signup_and_confirm(client, "someone@elsewhere.example")
    assert not Membership.objects.exists()
    assert not AuditLog.objects.exists()
