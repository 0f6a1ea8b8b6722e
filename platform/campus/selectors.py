"""Reads for the university admin pages: a fixed number of queries whatever the size."""

from django.db.models import Q, QuerySet

from campus.models import AuditLog, Membership, Organization


def organization_members(*, organization: Organization, search: str = "") -> QuerySet[Membership]:
    """Members of `organization`, by name then email, filtered by `search` on either."""
    members = Membership.objects.filter(organization=organization).select_related("user")
    search = search.strip()
    if search:
        members = members.filter(Q(user__email__icontains=search) | Q(user__name__icontains=search))
    return members.order_by("user__name", "user__email")


def organization_audit_log(
    *, organization: Organization, search: str = "", action: str = ""
) -> QuerySet[AuditLog]:
    """The university's audit log, newest first, with the people it names; `search` matches
    who acted or who or what was acted on, `action` keeps one kind of entry."""
    entries = AuditLog.objects.filter(organization=organization).select_related(
        "actor", "target_user"
    )
    search = search.strip()
    if search:
        entries = entries.filter(
            Q(actor__email__icontains=search)
            | Q(actor__name__icontains=search)
            | Q(target_label__icontains=search)
            | Q(target_user__name__icontains=search)
        )
    if action:
        entries = entries.filter(action=action)
    return entries
