"""Enrollment by CSV upload: columns email, name, role.

All rows are checked first; only when every row is good are they applied, in one transaction.
A file with any bad row changes nothing, and the report says what is wrong on which line.
"""

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campus.models import AuditAction, User
from campus.selectors import pending_users_by_email, users_by_verified_email
from campus.services import audit_record, email_unverified_claims_remove, pending_account_reclaim
from courses.cohorts.invitations import send_invitations
from courses.cohorts.services import enrollment_create
from courses.models import Cohort, Enrollment, EnrollmentRole

logger = logging.getLogger(__name__)

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
NAME_MAX = 200
FIELD_MAX = 1000
# NUL and other control characters (tab aside): never part of a name or an address, and
# PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_MESSAGE = gettext_lazy(
    "This line holds a control character (such as NUL); save the file again as plain CSV."
)
_UNREADABLE = gettext_lazy(
    "This line cannot be read: a field is too long, or a quotation mark is never closed. "
    "Put quotation marks around a field that holds a comma, and double a quotation mark "
    "inside one."
)


class Outcome(models.TextChoices):
    CREATED = "created", gettext_lazy("New account created and enrolled")
    ENROLLED = "enrolled", gettext_lazy("Existing account enrolled")
    INVITED = "invited", gettext_lazy("Unconfirmed account enrolled and invited")
    ALREADY = "already", gettext_lazy("Already enrolled")
    ERROR = "error", gettext_lazy("Error")


# What a good line would do, said while nothing has been applied (another line is wrong).
PLANNED = {
    Outcome.CREATED: gettext_lazy("Valid: a new account would be created and enrolled"),
    Outcome.ENROLLED: gettext_lazy("Valid: the existing account would be enrolled"),
    Outcome.INVITED: gettext_lazy("Valid: the unconfirmed account would be enrolled and invited"),
}


@dataclass
class CsvRow:
    line: int
    email: str
    name: str
    role: str
    outcome: str = Outcome.ERROR
    message: str = ""
    user: User | None = None
    applied: bool = False

    def get_outcome_display(self) -> str:
        if not self.applied and self.outcome in PLANNED:
            return str(PLANNED[Outcome(self.outcome)])
        return str(Outcome(self.outcome).label)

    def get_role_display(self) -> str:
        return str(EnrollmentRole(self.role).label) if self.role in EnrollmentRole.values else ""


@dataclass
class CsvReport:
    rows: list[CsvRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    applied: bool = False
    invitation_error: str = ""

    @property
    def has_errors(self) -> bool:
        return bool(self.file_errors) or any(r.outcome == Outcome.ERROR for r in self.rows)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    def counts(self) -> list[tuple[str, int]]:
        return [
            (str(label if self.applied else PLANNED.get(Outcome(value), label)), self.count(value))
            for value, label in Outcome.choices
        ]


def enrollment_csv_import(*, actor: User, cohort: Cohort, data: bytes) -> CsvReport:
    """Check every row of `data`, then, only if all are good, apply them in one transaction
    and invite the new accounts by email once it commits."""
    report = CsvReport()
    try:
        with transaction.atomic():
            # Lock the cohort: seats are counted by the check and taken by the apply.
            cohort = (
                Cohort.objects.select_for_update(of=("self",))
                .select_related("course__organization")
                .get(pk=cohort.pk)
            )
            report = enrollment_csv_check(cohort=cohort, data=data)
            if report.has_errors:
                return report
            invited = _apply(actor=actor, cohort=cohort, rows=report.rows)
            report.applied = True
            for row in report.rows:
                row.applied = True
            if invited:
                transaction.on_commit(
                    partial(_invite, report=report, users=invited, cohort=cohort, inviter=actor)
                )
    except IntegrityError:
        report.applied = False
        report.file_errors.append(
            _(
                "Someone changed this cohort while the file was being applied, so nothing was "
                "applied. Upload the file again."
            )
        )
    return report


def enrollment_csv_check(*, cohort: Cohort, data: bytes) -> CsvReport:
    """The report of what importing `data` would do, writing nothing."""
    report = CsvReport()
    rows = _parse(data=data, errors=report.file_errors)
    if report.file_errors:
        return report
    report.rows = rows
    _check_fields(rows)
    _match_accounts(rows, cohort=cohort)
    _check_capacity(rows, cohort=cohort)
    return report


def _parse(*, data: bytes, errors: list[str]) -> list[CsvRow]:
    if len(data) > MAX_BYTES:
        errors.append(_("The file is larger than 2 MB. Split it into smaller files."))
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(_("The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8”."))
        return []
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        errors.append(_("The file is empty. Its first line must be the header: email,name,role."))
        return []
    # Only the delimiter is guessed: a sniffed dialect also guesses quoting from the header,
    # which has no quotes, and then misreads "O""Brien" on later lines.
    delimiter = max(",;\t", key=lines[0].count)
    reader = csv.reader(io.StringIO(text), csv.excel, delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error:
        errors.append(_("The first line is not readable CSV: it must be email,name,role."))
        return []
    if "email" not in header:
        errors.append(
            _("The first line must name the columns: email, name, role (found: %(header)s).")
            % {"header": ", ".join(header)}
        )
        return []
    rows = list(_rows(reader, header))
    if len(rows) > MAX_ROWS:
        errors.append(
            _("The file has %(count)s rows; at most %(max)s are taken at once. Split it.")
            % {"count": len(rows), "max": MAX_ROWS}
        )
        return []
    if not rows:
        errors.append(_("The file has a header but no rows."))
    return rows


def _rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[CsvRow]:
    column = {name: header.index(name) for name in ("email", "name", "role") if name in header}
    while True:
        line = reader.line_num + 1  # type: ignore[attr-defined]
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # A field over the csv module's limit, or a quote that never closes: this line
            # is reported, the next one is read on its own.
            yield CsvRow(line=line, email="", name="", role="", message=str(_UNREADABLE))
            continue
        if not any(v.strip() for v in values):
            continue

        def get(name: str, values: list[str] = values) -> str:
            index = column.get(name)
            return values[index].strip() if index is not None and index < len(values) else ""

        row = CsvRow(
            line=reader.line_num,  # type: ignore[attr-defined]
            email=get("email").lower(),
            name=get("name"),
            role=get("role").lower() or EnrollmentRole.STUDENT,
        )
        if any(_CONTROL.search(v) for v in values):
            row.message = str(_CONTROL_MESSAGE)
        elif any(len(v) > FIELD_MAX for v in values):
            row.message = _("A field on this line is longer than %(max)s characters.") % {
                "max": FIELD_MAX
            }
        if row.message:  # what the report shows of the line stays short and printable
            row.email, row.name = _CONTROL.sub("?", row.email[:80]), ""
            row.role = EnrollmentRole.STUDENT
        yield row


def _check_fields(rows: list[CsvRow]) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        row.message = row.message or _row_field_error(row, first_line)
        if row.message:
            row.outcome = Outcome.ERROR
        first_line.setdefault(row.email, row.line)


def _row_field_error(row: CsvRow, first_line: dict[str, int]) -> str:
    if not row.email:
        return _("The email is missing.")
    try:
        validate_email(row.email)
    except ValidationError:
        return _("“%(email)s” is not a valid email address.") % {"email": row.email}
    if row.email in first_line:
        return _("This email is already on line %(line)s.") % {"line": first_line[row.email]}
    if row.role not in EnrollmentRole.values:
        return _("“%(role)s” is not a role; use one of: %(roles)s.") % {
            "role": row.role,
            "roles": ", ".join(EnrollmentRole.values),
        }
    if len(row.name) > NAME_MAX:
        return _("The name is longer than %(max)s characters.") % {"max": NAME_MAX}
    return ""


def _match_accounts(rows: list[CsvRow], *, cohort: Cohort) -> None:
    """Decide each good row's outcome with a fixed number of queries, whatever the rows.

    Only a verified address names an account (`users_by_verified_email`): a person who typed
    someone else's address into their profile is never enrolled in that person's place.
    """
    good = [r for r in rows if not r.message]
    emails = {r.email for r in good}
    users = users_by_verified_email(emails=emails)
    pending = pending_users_by_email(emails=emails - users.keys())
    taken = {
        email
        for email in User.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails - users.keys() - pending.keys())
        .values_list("email_lower", flat=True)
    }
    enrolled = dict(
        Enrollment.objects.filter(
            cohort=cohort, user__in=[*users.values(), *pending.values()]
        ).values_list("user_id", "role")
    )
    for row in good:
        row.user = users.get(row.email) or pending.get(row.email)
        if row.email in taken:
            row.outcome = Outcome.ERROR
            row.message = _(
                "An account uses this address as its login without having confirmed it, and "
                "has another confirmed address. Ask a platform administrator to correct it."
            )
        elif row.user is None:
            row.outcome = Outcome.CREATED
        elif not row.user.is_active:
            row.outcome = Outcome.ERROR
            row.message = _("This account is deactivated; reactivate it before enrolling it.")
        elif row.user.pk in enrolled:
            row.outcome = Outcome.ALREADY
            if enrolled[row.user.pk] != row.role:
                row.message = _("Enrolled as %(role)s; the role was not changed.") % {
                    "role": EnrollmentRole(enrolled[row.user.pk]).label
                }
        elif row.email in pending:
            row.outcome = Outcome.INVITED
        else:
            row.outcome = Outcome.ENROLLED


def _check_capacity(rows: list[CsvRow], *, cohort: Cohort) -> None:
    if cohort.capacity is None:
        return
    seats = (
        cohort.capacity
        - Enrollment.objects.filter(cohort=cohort, role=EnrollmentRole.STUDENT).count()
    )
    for row in rows:
        joining = row.outcome in (Outcome.CREATED, Outcome.ENROLLED, Outcome.INVITED)
        if joining and row.role == EnrollmentRole.STUDENT:
            seats -= 1
            if seats < 0:
                row.outcome = Outcome.ERROR
                row.message = _(
                    "This would take the cohort over its capacity (%(capacity)s). Raise the "
                    "capacity or remove learners from the file."
                ) % {"capacity": cohort.capacity}


def _apply(*, actor: User, cohort: Cohort, rows: list[CsvRow]) -> list[User]:
    """Write the rows; returns the accounts to invite once this commits: the new ones, and
    the unconfirmed ones, now opened only by the invitation mailed to their address."""
    invited = []
    for row in rows:
        if row.outcome == Outcome.CREATED:
            email_unverified_claims_remove(email=row.email)
            row.user = _create_invited_user(actor=actor, cohort=cohort, row=row)
            invited.append(row.user)
        elif row.outcome == Outcome.INVITED:
            assert row.user is not None
            email_unverified_claims_remove(email=row.email)
            invited.append(pending_account_reclaim(user=row.user))
        if row.outcome in (Outcome.CREATED, Outcome.ENROLLED, Outcome.INVITED):
            assert row.user is not None
            enrollment_create(actor=actor, user=row.user, cohort=cohort, role=row.role, via="csv")
    return invited


def _invite(*, report: CsvReport, users: list[User], cohort: Cohort, inviter: User) -> None:
    """Send the invitations; a mail failure cannot undo the enrollments, so it is reported."""
    try:
        send_invitations(users=users, cohort=cohort, inviter=inviter)
    except Exception as error:
        logger.exception("Invitations for cohort %s could not be sent", cohort.pk)
        report.invitation_error = _(
            "The accounts were created, but the invitation emails could not be sent (%(error)s). "
            "Ask these people to use “Forgot your password?” on the login page."
        ) % {"error": error.__class__.__name__}


def _create_invited_user(*, actor: User, cohort: Cohort, row: CsvRow) -> User:
    """A new account with no usable password: its owner sets one from the invitation."""
    user = User.objects.create_user(email=row.email, password=None, name=row.name)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    audit_record(
        organization=cohort.course.organization,
        actor=actor,
        action=AuditAction.USER_INVITED,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        target_user=user,
        details={"via": "csv", "cohort": str(cohort)},
    )
    return user
