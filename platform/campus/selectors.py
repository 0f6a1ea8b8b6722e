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


def organization_audit_log(*, organization: Organization) -> QuerySet[AuditLog]:
    """The university's audit log, newest first, with the people it names."""
    return AuditLog.objects.filter(organization=organization).select_related("actor", "target_user")
