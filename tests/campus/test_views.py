import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campus.models import AuditAction, AuditLog, Membership, Role
from tests.support.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return MembershipFactory(role=Role.ORG_ADMIN, user__name="Admin Person")


def _members_url(admin) -> str:
    return f"/universities/{admin.organization.slug}/members/"


def _role_url(membership) -> str:
    return f"/universities/{membership.organization.slug}/members/{membership.pk}/role/"


def test_the_member_list_shows_members_with_a_labelled_role_form(client, admin) -> None:
    student = MembershipFactory(organization=admin.organization, user__name="Ada Lovelace")
    MembershipFactory(user__name="Someone Elsewhere")  # another university
    client.force_login(admin.user)
    page = client.get(_members_url(admin))
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text
    assert "Someone Elsewhere" not in page.text
    assert f'<label for="role-{student.pk}"' in page.text
    assert f'id="role-{student.pk}" name="role"' in page.text
    assert "csrfmiddlewaretoken" in page.text


def test_search_filters_by_name_or_email(client, admin) -> None:
    MembershipFactory(organization=admin.organization, user__name="Ada Lovelace")
    MembershipFactory(
        organization=admin.organization, user__name="Alan Turing", user__email="alan@univ.example"
    )
    client.force_login(admin.user)
    by_name = client.get(_members_url(admin), {"q": "lovelace"})
    assert "Ada Lovelace" in by_name.text and "Alan Turing" not in by_name.text
    by_email = client.get(_members_url(admin), {"q": "ALAN@univ"})
    assert "Alan Turing" in by_email.text and "Ada Lovelace" not in by_email.text
    nobody = client.get(_members_url(admin), {"q": "zzz"})
    assert "Nobody matches this search." in nobody.text


def _member_page_queries(client, admin) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(_members_url(admin)).status_code == 200
    return len(queries)


def test_the_member_list_runs_the_same_queries_for_3_or_30_members(client, admin) -> None:
    client.force_login(admin.user)
    for _ in range(2):
        student = MembershipFactory(organization=admin.organization)
        AuditLog.objects.create(
            organization=admin.organization,
            actor=admin.user,
            action=AuditAction.ROLE_CHANGED,
            target_type="membership",
            target_user=student.user,
            target_label=student.user.email,
        )
    few = _member_page_queries(client, admin)
    for _ in range(27):
        student = MembershipFactory(organization=admin.organization)
        AuditLog.objects.create(
            organization=admin.organization,
            actor=student.user,
            action=AuditAction.ROLE_CHANGED,
            target_type="membership",
            target_user=student.user,
            target_label=student.user.email,
        )
    assert _member_page_queries(client, admin) == few


def test_changing_a_role_saves_it_records_it_and_returns_to_the_same_search(client, admin) -> None:
    student = MembershipFactory(organization=admin.organization)
    client.force_login(admin.user)
    back = _members_url(admin) + "?q=person&page=1"
    response = client.post(_role_url(student), {"role": Role.TA, "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    assert Membership.objects.get(pk=student.pk).role == Role.TA
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.target_user) == (admin.user, student.user)
    page = client.get(_members_url(admin))
    assert "is now: Teaching assistant" in page.text
    assert "Student → Teaching assistant" in page.text  # the recent changes on the page


def test_it_does_not_redirect_outside_the_member_list_after_a_change(client, admin) -> None:
    student = MembershipFactory(organization=admin.organization)
    client.force_login(admin.user)
    response = client.post(_role_url(student), {"role": Role.TA, "next": "https://evil.test/"})
    assert response["Location"] == _members_url(admin)


def test_refusing_to_demote_the_last_admin_is_shown_and_changes_nothing(client, admin) -> None:
    client.force_login(admin.user)
    response = client.post(_role_url(admin), {"role": Role.STUDENT}, follow=True)
    assert "only admin" in response.text
    assert Membership.objects.get(pk=admin.pk).role == Role.ORG_ADMIN
    assert not AuditLog.objects.exists()


def test_a_role_change_without_the_csrf_token_is_refused(admin) -> None:
    student = MembershipFactory(organization=admin.organization)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    assert client.post(_role_url(student), {"role": Role.TA}).status_code == 403
    assert Membership.objects.get(pk=student.pk).role == Role.STUDENT


def test_a_member_of_another_university_cannot_be_changed_from_here(client, admin) -> None:
    elsewhere = MembershipFactory()
    client.force_login(admin.user)
    url = f"/universities/{admin.organization.slug}/members/{elsewhere.pk}/role/"
    assert client.post(url, {"role": Role.ORG_ADMIN}).status_code == 404
    assert Membership.objects.get(pk=elsewhere.pk).role == Role.STUDENT


def test_the_audit_log_page_lists_entries_newest_first(client, admin) -> None:
    first = MembershipFactory(organization=admin.organization, user__email="first@example.org")
    second = MembershipFactory(organization=admin.organization, user__email="second@example.org")
    client.force_login(admin.user)
    client.post(_role_url(first), {"role": Role.TA})
    client.post(_role_url(second), {"role": Role.INSTRUCTOR})
    page = client.get(f"/universities/{admin.organization.slug}/audit/")
    assert page.status_code == 200
    table = page.text[page.text.index("<tbody") :]
    assert table.index("second@example.org") < table.index("first@example.org")


def test_the_universities_page_lists_only_the_ones_you_administer(client, admin) -> None:
    MembershipFactory(role=Role.ORG_ADMIN, organization__name="Other University")
    client.force_login(admin.user)
    page = client.get("/universities/")
    assert admin.organization.name in page.text
    assert "Other University" not in page.text
    client.force_login(UserFactory())
    assert client.get("/universities/").status_code == 403


def test_the_member_page_is_translated_into_french(client, admin) -> None:
    client.force_login(admin.user)
    page = client.get(_members_url(admin), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Rechercher par nom ou adresse" in page.text


def test_the_audit_log_filters_by_person_and_by_kind_of_change(client, admin) -> None:
    first = MembershipFactory(organization=admin.organization, user__email="first@example.org")
    second = MembershipFactory(organization=admin.organization, user__email="second@example.org")
    client.force_login(admin.user)
    client.post(_role_url(first), {"role": Role.TA})
    client.post(_role_url(second), {"role": Role.INSTRUCTOR})
    AuditLog.objects.create(
        organization=admin.organization,
        action=AuditAction.MEMBER_JOINED,
        target_type="membership",
        target_label="joined@example.org",
    )
    audit = f"/universities/{admin.organization.slug}/audit/"
    by_person = client.get(audit, {"q": "FIRST@"}).text
    table = by_person[by_person.index("<tbody") :]
    assert "first@example.org" in table and "second@example.org" not in table
    by_kind = client.get(audit, {"action": AuditAction.MEMBER_JOINED}).text
    table = by_kind[by_kind.index("<tbody") :]
    assert "joined@example.org" in table and "first@example.org" not in table
    assert client.get(audit, {"action": "not-a-kind"}).status_code == 200
