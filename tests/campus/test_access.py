import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from campus.access import access_organization, access_organization_admin, is_org_admin
from campus.models import Role
from tests.support.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.INSTRUCTOR, Role.TA, Role.STUDENT])
def test_members_of_every_role_can_access_their_organization(role: str) -> None:
    membership = MembershipFactory(role=role)
    org = access_organization(user=membership.user, slug=membership.organization.slug)
    assert org == membership.organization


def test_it_hides_an_organization_from_non_members() -> None:
    other = OrganizationFactory()
    MembershipFactory(role=Role.ORG_ADMIN)  # an admin elsewhere
    stranger = UserFactory()
    with pytest.raises(Http404):
        access_organization(user=stranger, slug=other.slug)


def test_an_admin_of_one_university_cannot_reach_another() -> None:
    admin = MembershipFactory(role=Role.ORG_ADMIN).user
    other = OrganizationFactory()
    with pytest.raises(Http404):
        access_organization_admin(user=admin, slug=other.slug)


@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.TA, Role.STUDENT])
def test_only_org_admins_pass_the_admin_check(role: str) -> None:
    membership = MembershipFactory(role=role)
    with pytest.raises(PermissionDenied):
        access_organization_admin(user=membership.user, slug=membership.organization.slug)
    assert not is_org_admin(user=membership.user, organization=membership.organization)


def test_org_admin_passes_the_admin_check() -> None:
    membership = MembershipFactory(role=Role.ORG_ADMIN)
    org = access_organization_admin(user=membership.user, slug=membership.organization.slug)
    assert org == membership.organization


def test_superusers_reach_every_organization() -> None:
    root = UserFactory(is_superuser=True)
    org = OrganizationFactory()
    assert access_organization_admin(user=root, slug=org.slug) == org


def test_unknown_slug_is_a_404() -> None:
    with pytest.raises(Http404):
        access_organization(user=UserFactory(), slug="nowhere")
