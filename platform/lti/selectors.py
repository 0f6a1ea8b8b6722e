"""Reads of the LTI records."""

from django.db.models import QuerySet

from campus.models import Organization
from lti.models import Registration


def registration_for_login(*, issuer: str, client_id: str) -> Registration | None:
    """The active registration a login names: the issuer with its client id, or the issuer
    alone when it has a single registration."""
    registrations = Registration.objects.filter(issuer=issuer, active=True)
    if client_id:
        registrations = registrations.filter(client_id=client_id)
    found = list(registrations[:2])
    return found[0] if len(found) == 1 else None


def university_registrations(*, organization: Organization) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(organization=organization)
        .prefetch_related("deployments")
        .order_by("-active", "name")
    )
