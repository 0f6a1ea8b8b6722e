"""Fetch-and-check helpers. Every view that shows or changes university data calls one.

`access_*` returns the object when the user may act on it and raises otherwise: Http404
when the user may not even know it exists, PermissionDenied when they may see it but not
do what they asked.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from campus.models import Membership, Organization, Role, User

STAFF_ROLES = frozenset({Role.ORG_ADMIN, Role.INSTRUCTOR, Role.TA})


def membership_role(*, user: User, organization: Organization) -> str | None:
    """The user's role in the organization, or None when they are not a member."""
    if not user.is_authenticated:
        return None
    # At most one row (one membership per organization): unsorted, so the organizations
    # are not joined to sort it (the model's default ordering).
    return (
        Membership.objects.filter(user=user, organization=organization)
        .order_by()
        .values_list("role", flat=True)
        .first()
    )


def access_organization(
    *, user: User, slug: str, roles: Iterable[str] = tuple(Role.values)
) -> Organization:
    """The organization `slug` when `user` holds one of `roles` in it (superusers hold all).

    Raises Http404 for non-members (an organization's existence is not secret, but what it
    holds is) and PermissionDenied for members whose role is not among `roles`.
    """
    try:
        organization = Organization.objects.get(slug=slug)
    except Organization.DoesNotExist:
        raise Http404("No such university") from None
    if user.is_authenticated and user.is_superuser:
        return organization
    role = membership_role(user=user, organization=organization)
    if role is None:
        raise Http404("No such university")
    if role not in set(roles):
        raise PermissionDenied("Your role in this university does not allow this")
    return organization


def access_organization_admin(*, user: User, slug: str) -> Organization:
    """The organization `slug` when `user` administers it."""
    return access_organization(user=user, slug=slug, roles=[Role.ORG_ADMIN])


def administers_any_university(*, user: User | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Role.ORG_ADMIN).exists()


def is_org_admin(*, user: User, organization: Organization) -> bool:
    if user.is_authenticated and user.is_superuser:
        return True
    return membership_role(user=user, organization=organization) == Role.ORG_ADMIN


def administered_organizations(*, user: User) -> list[Organization]:
    if user.is_superuser:
        return list(Organization.objects.all())
    return list(
        Organization.objects.filter(memberships__user=user, memberships__role=Role.ORG_ADMIN)
    )
