"""Writes on cohorts and enrollments. Every enrollment change is recorded in the university's
audit log, inside the transaction that makes it."""

from dataclasses import asdict, dataclass
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campus.models import AuditAction, Role, User
from campus.services import audit_record, membership_ensure
from courses.cohorts.quotas import cohort_day
from courses.models import (
    Cohort,
    CohortQuota,
    Course,
    Enrollment,
    EnrollmentRole,
    new_enrollment_code,
)

# The university role a person gets when first enrolled in one of its courses.
MEMBERSHIP_ROLE: dict[str, str] = {
    EnrollmentRole.STUDENT: Role.STUDENT,
    EnrollmentRole.TA: Role.TA,
    EnrollmentRole.INSTRUCTOR: Role.INSTRUCTOR,
}


class EnrollmentRefused(Exception):
    """An enrollment that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class CohortSettings:
    name: str
    starts_on: date | None
    ends_on: date | None
    time_zone: str
    capacity: int | None
    cpu_seconds_per_day: int | None
    model_tokens_per_day: int | None


COHORT_FIELDS = ("name", "starts_on", "ends_on", "time_zone", "capacity")
QUOTA_FIELDS = ("cpu_seconds_per_day", "model_tokens_per_day")


def _audit_cohort(*, actor: User, cohort: Cohort, action: str, details: dict[str, object]) -> None:
    audit_record(
        organization=cohort.course.organization,
        actor=actor,
        action=action,
        target_type="cohort",
        target_id=cohort.pk,
        target_label=str(cohort),
        details=details,
    )


@transaction.atomic
def cohort_create(*, actor: User, course: Course, settings: CohortSettings) -> Cohort:
    cohort = Cohort.objects.create(
        course=course, **{name: getattr(settings, name) for name in COHORT_FIELDS}
    )
    CohortQuota.objects.create(
        cohort=cohort, **{name: getattr(settings, name) for name in QUOTA_FIELDS}
    )
    _audit_cohort(
        actor=actor,
        cohort=cohort,
        action=AuditAction.COHORT_CREATED,
        details=_jsonable(asdict(settings)),
    )
    return cohort


@transaction.atomic
def cohort_update(*, actor: User, cohort: Cohort, settings: CohortSettings) -> Cohort:
    """Apply `settings`, recording the fields that changed (old and new values)."""
    quota, _created = CohortQuota.objects.get_or_create(cohort=cohort)
    changes: dict[str, object] = {}
    for target, names in ((cohort, COHORT_FIELDS), (quota, QUOTA_FIELDS)):
        changed = [n for n in names if getattr(target, n) != getattr(settings, n)]
        for name in changed:
            changes[name] = _jsonable(
                {"old": getattr(target, name), "new": getattr(settings, name)}
            )
            setattr(target, name, getattr(settings, name))
        if changed:
            target.save(update_fields=changed)
    if changes:
        _audit_cohort(
            actor=actor,
            cohort=cohort,
            action=AuditAction.COHORT_CHANGED,
            details={"changes": changes},
        )
    return cohort


@transaction.atomic
def cohort_regenerate_code(*, actor: User, cohort: Cohort) -> Cohort:
    """A new enrollment code: the old invite link stops working at once. The old code is
    kept in the audit entry, so its link can say it was replaced rather than unknown."""
    replaced_code = cohort.enrollment_code
    cohort.enrollment_code = new_enrollment_code()
    cohort.save(update_fields=["enrollment_code"])
    _audit_cohort(
        actor=actor,
        cohort=cohort,
        action=AuditAction.COHORT_CODE_REGENERATED,
        details={"replaced_code": replaced_code},
    )
    return cohort


def enrollment_create(
    *, actor: User | None, user: User, cohort: Cohort, role: str, via: str
) -> Enrollment:
    """Enroll `user` in `cohort` with `role`, making them a member of the university if they
    are not one yet. Call inside a transaction (the audit entries go with the rows)."""
    enrollment = Enrollment.objects.create(user=user, cohort=cohort, role=role)
    organization = cohort.course.organization
    membership_ensure(
        actor=actor, user=user, organization=organization, role=MEMBERSHIP_ROLE[role], via=via
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.ENROLLMENT_CREATED,
        target_type="enrollment",
        target_id=enrollment.pk,
        target_label=user.email,
        target_user=user,
        details={"cohort": str(cohort), "cohort_id": cohort.pk, "role": role, "via": via},
    )
    return enrollment


def student_count(*, cohort: Cohort) -> int:
    return Enrollment.objects.filter(cohort=cohort, role=EnrollmentRole.STUDENT).count()


@dataclass(frozen=True)
class JoinResult:
    enrollment: Enrollment
    created: bool  # False: they were already enrolled


@transaction.atomic
def enrollment_join_by_code(*, user: User, code: str) -> JoinResult:
    """Enroll `user` as a student of the cohort whose enrollment code is `code`.

    The cohort row is locked while its seats are counted, so two people cannot take the last
    seat together. Raises Cohort.DoesNotExist for an unknown code and EnrollmentRefused when
    the cohort is full or over.
    """
    cohort = (
        Cohort.objects.select_for_update(of=("self",))
        .select_related("course__organization")
        .get(enrollment_code=code)
    )
    existing = Enrollment.objects.filter(user=user, cohort=cohort).first()
    if existing is not None:
        return JoinResult(enrollment=existing, created=False)
    check_can_join(cohort=cohort)
    enrollment = enrollment_create(
        actor=user, user=user, cohort=cohort, role=EnrollmentRole.STUDENT, via="invite_link"
    )
    return JoinResult(enrollment=enrollment, created=True)


def check_can_join(*, cohort: Cohort) -> None:
    """Raise EnrollmentRefused when a new student cannot join `cohort` now."""
    if cohort.ends_on is not None and cohort_day(cohort=cohort) > cohort.ends_on:
        raise EnrollmentRefused(
            _(
                "This cohort ended on %(date)s: it no longer takes new learners. Ask your "
                "instructor for the link to a current cohort."
            )
            % {"date": cohort.ends_on.isoformat()}
        )
    if cohort.capacity is not None and student_count(cohort=cohort) >= cohort.capacity:
        raise EnrollmentRefused(
            ngettext(
                "This cohort is full (%(capacity)s learner). Ask your instructor to raise its "
                "capacity or to give you the link to another cohort.",
                "This cohort is full (%(capacity)s learners). Ask your instructor to raise its "
                "capacity or to give you the link to another cohort.",
                cohort.capacity,
            )
            % {"capacity": cohort.capacity}
        )


def _jsonable(values: dict[str, object]) -> dict[str, object]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def _audit_enrollment(
    *, actor: User | None, enrollment: Enrollment, action: str, details: dict[str, object]
) -> None:
    cohort = enrollment.cohort
    audit_record(
        organization=cohort.course.organization,
        actor=actor,
        action=action,
        target_type="enrollment",
        target_id=enrollment.pk,
        target_label=enrollment.user.email,
        target_user=enrollment.user,
        details={"cohort": str(cohort), "cohort_id": cohort.pk, **details},
    )


@transaction.atomic
def enrollment_set_role(*, actor: User | None, enrollment: Enrollment, role: str) -> Enrollment:
    """Change someone's role in a cohort (learner, TA, instructor), recording it. The
    university membership is left as it is: it is changed on the members page."""
    if role not in EnrollmentRole.values:
        raise EnrollmentRefused(_("“%(role)s” is not a role.") % {"role": role})
    old_role = enrollment.role
    if old_role == role:
        return enrollment
    enrollment.role = role
    enrollment.save(update_fields=["role"])
    _audit_enrollment(
        actor=actor,
        enrollment=enrollment,
        action=AuditAction.ENROLLMENT_ROLE_CHANGED,
        details={"from": old_role, "to": role},
    )
    return enrollment


@transaction.atomic
def enrollment_remove(*, actor: User | None, enrollment: Enrollment) -> None:
    """Take someone out of a cohort. Their submissions stay (they belong to the cohort's
    record), and the removal is recorded with the role they had."""
    _audit_enrollment(
        actor=actor,
        enrollment=enrollment,
        action=AuditAction.ENROLLMENT_REMOVED,
        details={"role": enrollment.role},
    )
    enrollment.delete()
