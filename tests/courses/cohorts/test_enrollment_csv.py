import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError

from campus.models import AuditAction, AuditLog, Membership, Role, User
from courses.cohorts import enrollment_csv
from courses.cohorts.enrollment_csv import Outcome, enrollment_csv_check, enrollment_csv_import
from courses.models import Enrollment, EnrollmentRole
from tests.support.factories import (
    CohortFactory,
    EnrollmentFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort():
    return CohortFactory()


@pytest.fixture
def admin(cohort):
    return MembershipFactory(organization=cohort.course.organization, role=Role.ORG_ADMIN).user


def _outcomes(report) -> list[tuple[int, str]]:
    return [(row.line, row.outcome) for row in report.rows]


def test_a_good_file_creates_enrolls_and_reports_each_row(cohort, admin) -> None:
    # given one unknown person, one existing account, and one already enrolled
    existing = UserFactory(email="existing@example.org")
    enrolled = EnrollmentFactory(cohort=cohort, user__email="enrolled@example.org").user
    data = (
        b"email,name,role\n"
        b"New.Person@Example.org,New Person,student\n"
        b"existing@example.org,,ta\n"
        b"enrolled@example.org,Whoever,\n"
    )
    # when the admin imports the file
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    # then each row says what happened
    assert report.applied and not report.has_errors
    assert _outcomes(report) == [
        (2, Outcome.CREATED),
        (3, Outcome.ENROLLED),
        (4, Outcome.ALREADY),
    ]
    new = User.objects.get(email="new.person@example.org")
    assert new.name == "New Person"
    assert not new.has_usable_password()
    assert not EmailAddress.objects.get(user=new).verified
    roles = dict(Enrollment.objects.filter(cohort=cohort).values_list("user__email", "role"))
    assert roles == {
        "new.person@example.org": EnrollmentRole.STUDENT,
        "existing@example.org": EnrollmentRole.TA,
        "enrolled@example.org": EnrollmentRole.STUDENT,
    }
    assert Membership.objects.get(user=existing).role == Role.TA
    assert Enrollment.objects.filter(user=enrolled).count() == 1
    created = AuditLog.objects.filter(action=AuditAction.ENROLLMENT_CREATED)
    assert {e.target_label for e in created} == {"new.person@example.org", "existing@example.org"}
    assert all(e.actor == admin and e.details["via"] == "csv" for e in created)
    assert AuditLog.objects.filter(action=AuditAction.USER_INVITED).count() == 1


def test_a_file_with_any_bad_row_applies_nothing_and_says_what_is_wrong(
    cohort, admin, django_capture_on_commit_callbacks
) -> None:
    # given a file whose good rows are mixed with bad ones
    UserFactory(email="existing@example.org")
    data = (
        b"email,name,role\n"
        b"good@example.org,Good,student\n"
        b"not-an-email,Bad,student\n"
        b"existing@example.org,,teacher\n"
        b"good@example.org,Twice,student\n"
        b",No Email,student\n"
    )
    users_before = User.objects.count()
    # when it is imported
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    # then nothing at all was applied, and nobody was emailed
    assert callbacks == []
    assert not report.applied and report.has_errors
    assert User.objects.count() == users_before
    assert not Enrollment.objects.exists()
    assert not Membership.objects.exclude(user=admin).exists()
    assert not AuditLog.objects.exists()
    assert mail.outbox == []
    # and every bad line says why, with its line number
    messages = {row.line: row.message for row in report.rows}
    assert report.rows[0].outcome == Outcome.CREATED  # what line 2 would have done
    assert messages[3] == "“not-an-email” is not a valid email address."
    assert messages[4] == "“teacher” is not a role; use one of: student, ta, instructor."
    assert messages[5] == "This email is already on line 2."
    assert messages[6] == "The email is missing."


def test_a_failure_while_applying_rolls_back_the_rows_already_applied(
    cohort, admin, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    # given the database refuses the second enrollment (say, a concurrent change)
    real_enrollment_create = enrollment_csv.enrollment_create
    calls = []

    def flaky_enrollment_create(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise IntegrityError("UNIQUE constraint failed")
        return real_enrollment_create(**kwargs)

    monkeypatch.setattr(enrollment_csv, "enrollment_create", flaky_enrollment_create)
    data = b"email\nfirst@example.org\nsecond@example.org\n"
    # when the file is imported
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    # then the first row's account and enrollment are gone too, and the report says why
    assert not report.applied
    assert "nothing was applied" in report.file_errors[0]
    assert not User.objects.filter(email__in=["first@example.org", "second@example.org"]).exists()
    assert not Enrollment.objects.exists()
    assert not AuditLog.objects.exists()
    assert callbacks == []


def test_rows_over_the_capacity_are_errors_and_nothing_is_applied(admin) -> None:
    cohort = CohortFactory(capacity=2)
    EnrollmentFactory(cohort=cohort)
    data = b"email,role\na@example.org,student\nb@example.org,instructor\nc@example.org,student\n"
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    assert _outcomes(report) == [
        (2, Outcome.CREATED),
        (3, Outcome.CREATED),
        (4, Outcome.ERROR),
    ]
    assert "capacity (2)" in report.rows[2].message
    assert Enrollment.objects.filter(cohort=cohort).count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"mail,name\nx@example.org,X\n", "The first line must name the columns"),
        (b"email,name,role\n", "The file has a header but no rows."),
        ("email,name\nzoé@example.org,Zoé\n".encode("latin-1"), "is not UTF-8"),
        (b"email\n" + b"x" * (2 * 1024 * 1024), "larger than 2 MB"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_as_a_whole(cohort, data, message) -> None:
    report = enrollment_csv_check(cohort=cohort, data=data)
    assert report.has_errors
    assert message in " ".join(report.file_errors)


def test_semicolons_a_byte_order_mark_and_blank_lines_are_understood(cohort) -> None:
    data = "\ufeffEmail;Name;Role\r\n\r\nZoe@example.org;Zoé Martin;Instructor\r\n".encode()
    report = enrollment_csv_check(cohort=cohort, data=data)
    assert not report.has_errors
    row = report.rows[0]
    assert (row.line, row.email, row.name, row.role) == (
        3,
        "zoe@example.org",
        "Zoé Martin",
        "instructor",
    )


def test_a_secondary_address_of_an_account_enrolls_that_account(cohort, admin) -> None:
    owner = UserFactory(email="main@example.org")
    EmailAddress.objects.create(user=owner, email="Other@Example.org", verified=True)
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=b"email\nother@example.org\n")
    assert _outcomes(report) == [(2, Outcome.ENROLLED)]
    assert Enrollment.objects.get(cohort=cohort).user == owner


def test_a_deactivated_account_is_an_error(cohort, admin) -> None:
    UserFactory(email="gone@example.org", is_active=False)
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=b"email\ngone@example.org\n")
    assert report.has_errors and "deactivated" in report.rows[0].message


def test_an_invited_person_sets_a_password_from_the_email_and_logs_in(
    client, cohort, admin, django_capture_on_commit_callbacks
) -> None:
    # given an admin enrolled a new person by CSV
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_csv_import(actor=admin, cohort=cohort, data=b"email,name\nnew@example.org,New\n")
    # then that person received one invitation naming the course
    assert len(mail.outbox) == 1
    invitation = mail.outbox[0]
    assert invitation.to == ["new@example.org"]
    assert cohort.course.title in invitation.subject
    # when they follow the link and choose a password
    path = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", invitation.body)
    assert path, invitation.body
    form_page = client.get(path.group(1), follow=True)
    set_path = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path.group(1)
    done = client.post(
        set_path, {"password1": "brand-new-passphrase-1", "password2": "brand-new-passphrase-1"}
    )
    assert done.status_code == 302
    # then they can log in at once (the address is verified) and see the course
    response = client.post(
        "/accounts/login/", {"login": "new@example.org", "password": "brand-new-passphrase-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/courses/"
    assert cohort.course.title in client.get("/courses/").text


class UnreachableMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("no mail server")


def test_every_new_account_is_invited_by_its_own_email(
    cohort, admin, django_capture_on_commit_callbacks
) -> None:
    data = b"email\na@example.org\nb@example.org\nc@example.org\n"
    with django_capture_on_commit_callbacks(execute=True):
        report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    assert report.applied and not report.invitation_error
    assert sorted(m.to[0] for m in mail.outbox) == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
    ]


def test_a_mail_failure_keeps_the_enrollments_and_says_what_to_do(
    cohort, admin, settings, django_capture_on_commit_callbacks
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.UnreachableMailServer"
    with django_capture_on_commit_callbacks(execute=True):
        report = enrollment_csv_import(actor=admin, cohort=cohort, data=b"email\na@example.org\n")
    assert report.applied
    assert "ConnectionRefusedError" in report.invitation_error
    assert "Forgot your password?" in report.invitation_error
    assert Enrollment.objects.filter(cohort=cohort, user__email="a@example.org").exists()


def test_an_unverified_secondary_address_never_enrolls_its_claimant(
    client, cohort, admin, django_capture_on_commit_callbacks
) -> None:
    # given an attacker who typed the victim's address into their profile, never confirmed
    attacker = UserFactory(email="attacker@example.org")
    EmailAddress.objects.create(user=attacker, email="Victim@Univ.example", verified=False)
    # when an instructor enrolls the victim's address as an instructor
    with django_capture_on_commit_callbacks(execute=True):
        report = enrollment_csv_import(
            actor=admin, cohort=cohort, data=b"email,name,role\nvictim@univ.example,V,instructor\n"
        )
    # then a new account is made for the victim, who alone is invited and enrolled
    assert _outcomes(report) == [(2, Outcome.CREATED)]
    victim = User.objects.get(email="victim@univ.example")
    assert victim != attacker
    assert list(Enrollment.objects.filter(cohort=cohort).values_list("user", flat=True)) == [
        victim.pk
    ]
    assert [m.to for m in mail.outbox] == [["victim@univ.example"]]
    # and the attacker's unproven claim on the address is gone
    assert not EmailAddress.objects.filter(user=attacker, email__iexact="victim@univ.example")
    assert not Membership.objects.filter(user=attacker).exists()


def test_an_unconfirmed_sign_up_with_the_address_is_reclaimed_for_its_owner(
    client, cohort, admin, django_capture_on_commit_callbacks, settings
) -> None:
    # given an attacker who signed up with the victim's address, never confirmed it, and is
    # logged in (verification optional), holding a second address of their own
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    claimant = User.objects.create_user(email="victim@univ.example", password="attacker-pass-1")
    EmailAddress.objects.create(
        user=claimant, email="victim@univ.example", primary=True, verified=False
    )
    EmailAddress.objects.create(user=claimant, email="attacker@evil.example", verified=False)
    client.force_login(claimant)
    # when an instructor enrolls the victim's address
    with django_capture_on_commit_callbacks(execute=True):
        report = enrollment_csv_import(
            actor=admin, cohort=cohort, data=b"email,name,role\nvictim@univ.example,V,ta\n"
        )
    # then the account is enrolled, but only the invitation mailed to the victim opens it
    assert _outcomes(report) == [(2, Outcome.INVITED)]
    claimant.refresh_from_db()
    assert not claimant.has_usable_password()
    assert list(EmailAddress.objects.filter(user=claimant).values_list("email", flat=True)) == [
        "victim@univ.example"
    ]
    assert [m.to for m in mail.outbox] == [["victim@univ.example"]]
    # the attacker's session and password are dead
    assert client.get("/courses/").status_code == 302
    response = client.post(
        "/accounts/login/", {"login": "victim@univ.example", "password": "attacker-pass-1"}
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200


def test_a_verified_address_of_another_account_is_matched_even_if_someone_claims_it(
    cohort, admin
) -> None:
    owner = UserFactory(email="owner@univ.example")
    attacker = UserFactory(email="attacker@example.org")
    EmailAddress.objects.create(user=attacker, email="OWNER@univ.example", verified=False)
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=b"email\nowner@univ.example\n")
    assert _outcomes(report) == [(2, Outcome.ENROLLED)]
    assert Enrollment.objects.get(cohort=cohort).user == owner


def test_a_field_over_the_csv_limit_is_a_row_error_not_a_crash(cohort, admin) -> None:
    data = (
        b"email,name\n"
        b"ok@example.org,Ok\n"
        b'long@example.org,"' + b"x" * 200_000 + b'"\n'
        b"after@example.org,After\n"
    )
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    assert report.has_errors and not report.applied
    bad = [r for r in report.rows if r.outcome == Outcome.ERROR]
    assert [r.line for r in bad] == [3]
    assert "too long" in bad[0].message or "longer than" in bad[0].message
    assert len(bad[0].email) <= 80
    assert not Enrollment.objects.filter(cohort=cohort).exists()


def test_a_nul_byte_is_a_row_error_and_never_stored(cohort, admin) -> None:
    data = b"email,name\nnul@example.org,Ada\x00Lovelace\n"
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    assert report.has_errors and "control character" in report.rows[0].message
    assert not User.objects.filter(email="nul@example.org").exists()


def test_doubled_quotes_inside_a_quoted_field_are_one_quote(cohort, admin) -> None:
    data = b'email,name,role\n"obrien@example.org","Conan ""The"" O\'Brien, Jr",ta\n'
    report = enrollment_csv_import(actor=admin, cohort=cohort, data=data)
    assert report.applied, [r.message for r in report.rows]
    assert User.objects.get(email="obrien@example.org").name == 'Conan "The" O\'Brien, Jr'
    assert Enrollment.objects.get(cohort=cohort).role == EnrollmentRole.TA
