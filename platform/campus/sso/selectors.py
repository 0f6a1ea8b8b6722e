"""Reads for university sign-in."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db.models import Q
from django.urls import reverse

from campus.access import STAFF_ROLES
from campus.models import EmailDomain, IdentityProvider, Membership, Organization, User
from campus.services import organization_for_email


def idp_for_provider_id(provider_id: str) -> IdentityProvider | None:
    return (
        IdentityProvider.objects.select_related("app", "organization")
        .filter(app__provider_id=provider_id)
        .first()
    )


def owned_domains(*, organization: Organization) -> list[str]:
    return list(
        EmailDomain.objects.filter(organization=organization).values_list("domain", flat=True)
    )


def idps_search(*, query: str, limit: int = 20) -> list[IdentityProvider]:
    """Universities with a sign-in, by name, slug or email domain (an address works too:
    `ada@univ.example` finds the owner of univ.example)."""
    query = query.strip().lower()
    idps = IdentityProvider.objects.select_related("app", "organization").order_by(
        "organization__name", "protocol"
    )
    if query:
        domain = query.rpartition("@")[2]
        idps = idps.filter(
            Q(organization__name__icontains=query)
            | Q(organization__slug__icontains=query)
            | Q(organization__email_domains__domain__startswith=domain)
        ).distinct()
    return list(idps[:limit])


def sso_only_idp_for_email(*, email: str) -> IdentityProvider | None:
    """The university sign-in that must be used instead of a password for `email`."""
    if "@" not in email:
        return None
    owner = organization_for_email(email=email)
    if owner is None:
        return None
    return (
        IdentityProvider.objects.select_related("app", "organization")
        .filter(organization_id=owner.organization_id, sso_only=True)
        .first()
    )


def sign_in_path(idp: IdentityProvider) -> str:
    """Where a person starts signing in with `idp` (POST, as allauth requires)."""
    if idp.protocol == IdentityProvider.Protocol.SAML:
        return reverse("saml_login", args=[idp.app.client_id])
    return reverse("openid_connect_login", kwargs={"provider_id": idp.app.provider_id})


def requires_mfa(*, user: User) -> bool:
    """Instructors, TAs, university admins, staff and superusers."""
    if user.is_superuser or user.is_staff:
        return True
    return Membership.objects.filter(user=user, role__in=STAFF_ROLES).exists()


def has_mfa(*, user: User) -> bool:
    """A second factor that signs in (recovery codes alone are a fallback, not a factor)."""
    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()


def has_domains(organization: Organization) -> bool:
    return EmailDomain.objects.filter(organization=organization).exists()


def email_in_use(*, email: str) -> bool:
    """Any account holds `email`, as its login or as an address, verified or not."""
    return (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    )
