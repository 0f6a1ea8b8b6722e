import pytest
from allauth.account.models import EmailAddress

from campus.models import AuditAction, AuditLog, EmailDomain, Membership, Role
from campus.services import (
    RoleChangeError,
    email_verify_after_password_set,
    membership_ensure,
    membership_join_by_email_domain,
    membership_set_role,
    organization_for_email,
)
from tests.support.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_role_change_is_saved_and_recorded_with_who_what_and_when() -> None:
    # given an admin and a student of the same university
    admin = MembershipFactory(role=Role.ORG_ADMIN)
    student = MembershipFactory(organization=admin.organization, role=Role.STUDENT)
    # when the admin makes the student an instructor
    membership_set_role(actor=admin.user, membership=student, role=Role.INSTRUCTOR)
    # then the role changed and the audit log says so
    student.refresh_from_db()
    assert student.role == Role.INSTRUCTOR
    entry = AuditLog.objects.get()
    assert entry.organization == admin.organization
    assert entry.actor == admin.user
    assert entry.action == AuditAction.ROLE_CHANGED
    assert entry.target_user == student.user
    assert entry.target_label == student.user.email
    assert entry.details == {"from": Role.STUDENT, "to": Role.INSTRUCTOR}
    assert entry.created_at is not None
    assert entry.details_display() == "Student → Instructor"


def test_setting_the_same_role_again_records_nothing() -> None:
    admin = MembershipFactory(role=Role.ORG_ADMIN)
    membership_set_role(actor=admin.user, membership=admin, role=Role.ORG_ADMIN)
    assert not AuditLog.objects.exists()


def test_it_refuses_an_unknown_role() -> None:
    admin = MembershipFactory(role=Role.ORG_ADMIN)
    student = MembershipFactory(organization=admin.organization)
    with pytest.raises(RoleChangeError):
        membership_set_role(actor=admin.user, membership=student, role="dean")
    student.refresh_from_db()
    assert student.role == Role.STUDENT


def test_it_refuses_to_demote_the_last_admin_but_not_one_of_two() -> None:
    admin = MembershipFactory(role=Role.ORG_ADMIN)
    with pytest.raises(RoleChangeError, match="only admin"):
        membership_set_role(actor=admin.user, membership=admin, role=Role.STUDENT)
    assert Membership.objects.get(pk=admin.pk).role == Role.ORG_ADMIN
    MembershipFactory(organization=admin.organization, role=Role.ORG_ADMIN)
    membership_set_role(actor=admin.user, membership=admin, role=Role.STUDENT)
    assert Membership.objects.get(pk=admin.pk).role == Role.STUDENT


def test_membership_ensure_creates_once_and_never_changes_an_existing_role() -> None:
    organization = OrganizationFactory()
    user = UserFactory()
    first = membership_ensure(
        actor=None, user=user, organization=organization, role=Role.TA, via="csv"
    )
    again = membership_ensure(
        actor=None, user=user, organization=organization, role=Role.STUDENT, via="csv"
    )
    assert first.pk == again.pk
    assert again.role == Role.TA
    assert AuditLog.objects.filter(action=AuditAction.MEMBER_JOINED).count() == 1


def test_the_domain_of_an_email_or_its_closest_parent_names_the_university() -> None:
    univ = EmailDomain.objects.create(organization=OrganizationFactory(), domain="univ.example")
    lab = EmailDomain.objects.create(organization=OrganizationFactory(), domain="lab.univ.example")
    assert organization_for_email(email="a@univ.example") == univ
    assert organization_for_email(email="a@Student.Univ.Example") == univ
    assert organization_for_email(email="a@x.lab.univ.example") == lab
    assert organization_for_email(email="a@univ.example.evil.test") is None
    assert organization_for_email(email="a@example") is None


def test_a_verified_university_email_makes_a_student_member_once() -> None:
    organization = OrganizationFactory()
    EmailDomain.objects.create(organization=organization, domain="univ.example")
    user = UserFactory(email="ada@univ.example")
    membership = membership_join_by_email_domain(user=user, email=user.email)
    assert membership is not None
    assert membership.organization == organization
    assert membership.role == Role.STUDENT
    entry = AuditLog.objects.get()
    assert entry.action == AuditAction.MEMBER_JOINED
    assert entry.details["via"] == "email_domain:univ.example"
    assert membership_join_by_email_domain(user=user, email=user.email) is None
    assert AuditLog.objects.count() == 1


def test_an_existing_member_keeps_their_role_on_auto_join() -> None:
    organization = OrganizationFactory()
    EmailDomain.objects.create(organization=organization, domain="univ.example")
    member = MembershipFactory(
        organization=organization, role=Role.INSTRUCTOR, user__email="prof@univ.example"
    )
    assert membership_join_by_email_domain(user=member.user, email=member.user.email) is None
    assert Membership.objects.get(pk=member.pk).role == Role.INSTRUCTOR


def test_setting_a_password_from_the_mailed_link_verifies_the_only_address() -> None:
    organization = OrganizationFactory()
    EmailDomain.objects.create(organization=organization, domain="univ.example")
    user = UserFactory(email="new@univ.example")
    EmailAddress.objects.filter(user=user).update(verified=False)
    assert email_verify_after_password_set(user=user) is not None
    assert EmailAddress.objects.get(user=user).verified
    assert Membership.objects.filter(user=user, organization=organization).exists()


def test_an_account_with_two_addresses_is_not_verified_by_a_password_reset() -> None:
    user = UserFactory()
    EmailAddress.objects.filter(user=user).update(verified=False)
    EmailAddress.objects.create(user=user, email="second@example.org", verified=False)
    assert email_verify_after_password_set(user=user) is None
    assert not EmailAddress.objects.filter(user=user, verified=True).exists()


def test_a_role_change_in_the_django_admin_is_audited_too(client) -> None:
    superuser = UserFactory(is_staff=True, is_superuser=True)
    member = MembershipFactory(role=Role.STUDENT)
    client.force_login(superuser)
    response = client.post(
        f"/admin/campus/membership/{member.pk}/change/",
        {"user": member.user.pk, "organization": member.organization.pk, "role": Role.TA},
    )
    assert response.status_code == 302
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action) == (superuser, AuditAction.ROLE_CHANGED)
    assert entry.details == {"from": Role.STUDENT, "to": Role.TA, "via": "admin"}
