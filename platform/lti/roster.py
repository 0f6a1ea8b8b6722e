"""Names and Role Provisioning: the LMS course's roster, read from the platform, kept in
its cohorts. New people are enrolled, changed roles follow, and people the LMS dropped (or
marks inactive) leave the cohort. Only people who came from this LMS are ever removed.
Every change goes through the cohort services, so each is in the university's audit log.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from campus.services import audit_record
from courses.cohorts.services import enrollment_remove
from courses.models import Enrollment
from courses.queues import enqueue_on_commit
from lti import claims, outbound, queues, tokens
from lti.models import Context, ContextCohort, PlatformAccount
from lti.services import account_for, enrollment_sync, via

MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200
# A launch asks for a sync at most this often per LMS course.
SYNC_ON_LAUNCH_EVERY = timedelta(minutes=10)


@dataclass
class RosterChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _members(*, context: Context) -> list[dict[str, Any]]:
    registration = context.deployment.registration
    token = tokens.service_token(registration=registration, scopes=[claims.SCOPE_NRPS])
    members: list[dict[str, Any]] = []
    url: str | None = context.memberships_url
    for _page in range(MAX_PAGES):
        if url is None:
            break
        page, url = outbound.get_json_page(url, token=token, accept=MEMBERSHIPS_TYPE)
        if not isinstance(page, dict) or not isinstance(page.get("members"), list):
            raise outbound.PlatformError("the roster is not a membership container", retry=False)
        members.extend(m for m in page["members"] if isinstance(m, dict) and m.get("user_id"))
    return members


def roster_sync(*, context_id: int) -> RosterChanges:
    """Bring the cohorts of an LMS course in line with its roster (raises PlatformError)."""
    context = Context.objects.select_related("deployment__registration__organization").get(
        pk=context_id
    )
    registration = context.deployment.registration
    changes = RosterChanges()
    if not context.memberships_url or not registration.active:
        return changes
    members = _members(context=context)
    with transaction.atomic():
        links = list(
            ContextCohort.objects.select_related("cohort__course__organization").filter(
                context=context
            )
        )
        for link in links:
            _sync_cohort(link=link, members=members, changes=changes)
            link.synced_at = timezone.now()
            link.save(update_fields=["synced_at"])
        audit_record(
            organization=registration.organization,
            actor=None,
            action="lti_roster_synced",
            target_type="lti_context",
            target_id=context.pk,
            target_label=str(context),
            details={
                "via": via(registration),
                "added": len(changes.added),
                "changed": len(changes.changed),
                "removed": len(changes.removed),
            },
        )
    return changes


def _sync_cohort(
    *, link: ContextCohort, members: list[dict[str, Any]], changes: RosterChanges
) -> None:
    registration = link.context.deployment.registration
    cohort = link.cohort
    present: set[int] = set()
    for member in members:
        listed = member.get("roles")
        roles = [str(r) for r in listed] if isinstance(listed, list) else []
        active = str(member.get("status", "Active")) == "Active"
        role = claims.context_role(roles) if active else None
        if role is None:
            continue
        user = account_for(registration=registration, sub=str(member["user_id"]), payload=member)
        present.add(user.pk)
        before = (
            Enrollment.objects.filter(user=user, cohort=cohort)
            .values_list("role", flat=True)
            .first()
        )
        enrollment_sync(user=user, cohort=cohort, role=role, registration=registration)
        if before is None:
            changes.added.append(str(member["user_id"]))
        elif before != role:
            changes.changed.append(str(member["user_id"]))
    from_this_lms = PlatformAccount.objects.filter(issuer=registration.issuer).values("user_id")
    dropped = (
        Enrollment.objects.filter(cohort=cohort, user_id__in=from_this_lms)
        .exclude(user_id__in=present)
        .select_related("user", "cohort__course__organization")
    )
    for enrollment in dropped:
        changes.removed.append(enrollment.user.email)
        enrollment_remove(actor=None, enrollment=enrollment)


def roster_sync_soon(*, context: Context) -> bool:
    """Ask for a sync after this launch commits, unless one ran lately."""
    if not context.memberships_url:
        return False
    recent = ContextCohort.objects.filter(
        context=context, synced_at__gt=timezone.now() - SYNC_ON_LAUNCH_EVERY
    ).exists()
    if recent:
        return False
    enqueue_on_commit(queues.ROSTER_SYNC, context.pk)
    return True
