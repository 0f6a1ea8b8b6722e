"""What a launch does here: the LMS user becomes (or is) an account, the LMS course a
cohort of the registering university's course, the LMS role a cohort role; then the person
lands on the exercise or lesson the link names.

Called by the launch view after `tokens.launch_validate`; every change of an enrollment is
audited (via "lti:<registration id>").
"""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from campus.models import AuditAction, Membership, Role, User
from campus.services import audit_record
from courses.cohorts.services import enrollment_create, enrollment_set_role
from courses.models import Cohort, CohortQuota, Course, Enrollment, Exercise, Lesson
from lti import claims
from lti.models import Context, ContextCohort, PlatformAccount, Registration, ResourceLink
from lti.tokens import LaunchError, ValidLaunch


@dataclass(frozen=True)
class Target:
    """What a link opens: an exercise or a lesson (or a course outline) of our courses."""

    course: Course
    exercise: Exercise | None = None
    lesson: Lesson | None = None

    def url(self) -> str:
        course = {"org_slug": self.course.organization.slug, "course_slug": self.course.slug}
        if self.exercise is not None:
            return reverse(
                "courses:exercise", kwargs={**course, "exercise_slug": self.exercise.slug}
            )
        if self.lesson is not None:
            return reverse("courses:lesson", kwargs={**course, "lesson_slug": self.lesson.slug})
        return reverse("courses:outline", kwargs=course)


@dataclass(frozen=True)
class LaunchResult:
    user: User
    context: Context
    cohort: Cohort | None
    role: str | None
    target: Target | None
    new_account: bool = False  # the first launch of this LMS user: linking is offered


# The addresses of accounts that launches make: a reserved domain (RFC 2606), never mail.
LMS_EMAIL_DOMAIN = "lti.invalid"


def via(registration: Registration) -> str:
    return f"lti:{registration.pk}"


def account_for(*, registration: Registration, sub: str, payload: dict[str, Any]) -> User:
    """The account of the platform user `sub`, made on first launch.

    Found by (issuer, sub) only. The email the LMS sends is not verified by us, so it never
    links to an existing account: a new account gets an address of its own that cannot
    receive mail or log in with a password.
    """
    account = (
        PlatformAccount.objects.select_related("user")
        .filter(issuer=registration.issuer, sub=sub)
        .first()
    )
    name = str(
        payload.get("name")
        or " ".join(str(payload.get(k, "")) for k in ("given_name", "family_name"))
    ).strip()[:200]
    if account is not None:
        user = account.user
        # A linked account of the person's own keeps the name they gave it.
        if name and user.name != name and user.email.endswith("@" + LMS_EMAIL_DOMAIN):
            user.name = name
            user.save(update_fields=["name"])
        return user
    digest = hashlib.sha256(f"{registration.issuer}\n{sub}".encode()).hexdigest()[:24]
    user = User.objects.create_user(
        email=f"lti-{digest}@{LMS_EMAIL_DOMAIN}", password=None, name=name
    )
    PlatformAccount.objects.create(
        issuer=registration.issuer, sub=sub, registration=registration, user=user
    )
    return user


def context_record(*, launch: ValidLaunch) -> Context:
    payload = launch.claims
    context_claim = payload.get(claims.CONTEXT)
    if not isinstance(context_claim, dict) or not str(context_claim.get("id", "")).strip():
        raise LaunchError(_("The LMS sent no course (context) with this launch."))
    context, _created = Context.objects.get_or_create(
        deployment=launch.deployment, context_id=str(context_claim["id"])[:255]
    )
    changes: dict[str, str] = {"title": str(context_claim.get("title", ""))[:300]}
    ags = payload.get(claims.AGS)
    if isinstance(ags, dict) and ags.get("lineitems"):
        changes["lineitems_url"] = str(ags["lineitems"])
    nrps = payload.get(claims.NRPS)
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        changes["memberships_url"] = str(nrps["context_memberships_url"])
    changed = [k for k, v in changes.items() if v and getattr(context, k) != v]
    for name in changed:
        setattr(context, name, changes[name])
    if changed:
        context.save(update_fields=changed)
    return context


def target_of(*, url: str, registration: Registration, host: str) -> Target | None:
    """The exercise, lesson or course of the registering university that `url` names, or None
    when it names none (another host, another university, or no such page)."""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != host:
        return None
    try:
        match = resolve(parts.path or "/")
    except Resolver404:
        return None
    kwargs = match.kwargs
    if match.namespace != "courses" or kwargs.get("org_slug") != registration.organization.slug:
        return None
    course = (
        Course.objects.select_related("organization")
        .filter(organization=registration.organization, slug=kwargs.get("course_slug"))
        .first()
    )
    if course is None:
        return None
    if match.url_name == "exercise":
        exercise = Exercise.objects.filter(
            module__course=course, slug=kwargs["exercise_slug"]
        ).first()
        return Target(course=course, exercise=exercise) if exercise else None
    if match.url_name == "lesson":
        lesson = Lesson.objects.filter(module__course=course, slug=kwargs["lesson_slug"]).first()
        return Target(course=course, lesson=lesson) if lesson else None
    if match.url_name == "outline":
        return Target(course=course)
    return None


def context_cohort(*, context: Context, course: Course, registration: Registration) -> Cohort:
    """The cohort of `course` that holds the LMS course's people; made on first launch."""
    link = (
        ContextCohort.objects.select_related("cohort__course__organization")
        .filter(context=context, cohort__course=course)
        .first()
    )
    if link is not None:
        return link.cohort
    name = _("%(course)s (LMS)") % {"course": context.title or context.context_id}
    cohort = Cohort.objects.create(course=course, name=name[:200])
    CohortQuota.objects.create(cohort=cohort)
    ContextCohort.objects.create(context=context, cohort=cohort)
    audit_record(
        organization=course.organization,
        actor=None,
        action=AuditAction.COHORT_CREATED,
        target_type="cohort",
        target_id=cohort.pk,
        target_label=str(cohort),
        details={"via": via(registration), "context": context.context_id},
    )
    return cohort


def enrollment_sync(
    *, user: User, cohort: Cohort, role: str | None, registration: Registration
) -> Enrollment | None:
    """Make `user`'s enrollment in `cohort` say what the LMS says (None: not in the course).

    Only this cohort changes: a role in one LMS course says nothing of another.
    """
    enrollment = (
        Enrollment.objects.filter(user=user, cohort=cohort)
        .select_related("cohort__course__organization", "user")
        .first()
    )
    if role is None:
        return enrollment
    if enrollment is None:
        return enrollment_create(
            actor=None, user=user, cohort=cohort, role=role, via=via(registration)
        )
    return enrollment_set_role(actor=None, enrollment=enrollment, role=role)


def _platform_admin_sync(*, user: User, registration: Registration) -> None:
    membership, created = Membership.objects.select_related("user", "organization").get_or_create(
        user=user, organization=registration.organization, defaults={"role": Role.ORG_ADMIN}
    )
    if created or membership.role != Role.ORG_ADMIN:
        old = None if created else membership.role
        if not created:
            membership.role = Role.ORG_ADMIN
            membership.save(update_fields=["role"])
        audit_record(
            organization=registration.organization,
            actor=None,
            action=AuditAction.MEMBER_JOINED if created else AuditAction.ROLE_CHANGED,
            target_type="membership",
            target_id=membership.pk,
            target_label=user.email,
            target_user=user,
            details={"role": Role.ORG_ADMIN, "via": via(registration)}
            if created
            else {"from": old, "to": Role.ORG_ADMIN, "via": via(registration)},
        )


@transaction.atomic
def launch_complete(*, launch: ValidLaunch, host: str) -> LaunchResult:
    """Map a validated resource-link launch onto our accounts, cohorts and pages."""
    payload = launch.claims
    registration = launch.registration
    sub = str(payload["sub"])
    new_account = not PlatformAccount.objects.filter(issuer=registration.issuer, sub=sub).exists()
    user = account_for(registration=registration, sub=sub, payload=payload)
    context = context_record(launch=launch)
    roles = [str(r) for r in payload.get(claims.ROLES, [])]
    if claims.is_platform_admin(roles):
        _platform_admin_sync(user=user, registration=registration)
    role = claims.context_role(roles)
    target = target_of(
        url=str(payload.get(claims.TARGET_LINK_URI, "")), registration=registration, host=host
    )
    link_claim = payload.get(claims.RESOURCE_LINK)
    if isinstance(link_claim, dict) and link_claim.get("id"):
        _link_record(context=context, link_claim=link_claim, target=target, payload=payload)
    cohort = None
    if target is not None:
        cohort = context_cohort(context=context, course=target.course, registration=registration)
        enrollment_sync(user=user, cohort=cohort, role=role, registration=registration)
    return LaunchResult(
        user=user,
        context=context,
        cohort=cohort,
        role=role,
        target=target,
        new_account=new_account,
    )


def _link_record(
    *, context: Context, link_claim: dict[str, Any], target: Target | None, payload: dict[str, Any]
) -> ResourceLink:
    ags = payload.get(claims.AGS)
    lineitem = str(ags.get("lineitem", "")) if isinstance(ags, dict) else ""
    link, _created = ResourceLink.objects.update_or_create(
        context=context,
        resource_link_id=str(link_claim["id"])[:255],
        defaults={
            "title": str(link_claim.get("title", ""))[:300],
            "exercise": target.exercise if target else None,
            "lesson": target.lesson if target else None,
            **({"lineitem_url": lineitem} if lineitem else {}),
        },
    )
    return link


RESUME_SALT = "lti-resume"
RESUME_MAX_AGE_S = 300


def resume_token(*, user: User, target: str) -> str:
    """A one-time link credential for the new-window fallback of a launch in an iframe."""
    return signing.dumps(
        {"user": user.pk, "target": target, "nonce": secrets.token_urlsafe(12)}, salt=RESUME_SALT
    )


def resume_use(*, token: str) -> tuple[User, str]:
    """The user and page of a resume token, which works once and for minutes only."""
    try:
        value = signing.loads(token, salt=RESUME_SALT, max_age=RESUME_MAX_AGE_S)
    except signing.BadSignature:
        raise LaunchError(_("This link has expired. Open the link in your LMS again.")) from None
    if not cache.add(f"lti:resume:{value['nonce']}", 1, RESUME_MAX_AGE_S * 2):
        raise LaunchError(_("This link was already used. Open the link in your LMS again."))
    user = User.objects.filter(pk=value["user"], is_active=True).first()
    target = str(value["target"])
    if user is None or not target.startswith("/") or target.startswith("//"):
        raise LaunchError(_("This link is not valid. Open the link in your LMS again."))
    return user, target
