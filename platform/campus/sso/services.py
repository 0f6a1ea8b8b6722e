"""Writes for university sign-in: identity providers (added by operators and university
admins) and what a sign-in does to accounts (links, just-in-time accounts, memberships).

Linking rule: a sign-in reaches an existing account only through the IdP's stable id (an
allauth SocialAccount) or an email address the IdP asserts within a domain its university
owns. Never through an address a person typed and did not verify.
"""

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from campus.models import (
    AuditAction,
    EmailDomain,
    IdentityProvider,
    Membership,
    Organization,
    Role,
    User,
)
from campus.services import audit_record, membership_ensure
from campus.sso.attributes import SAML_ATTRIBUTE_MAPPING, Assertion
from campus.sso.keys import sp_key_pair
from campus.sso.metadata import SamlIdp
from campus.sso.selectors import sign_in_path

# Most privileged first: a person with several affiliations gets the highest mapped role.
ROLE_ORDER = [Role.ORG_ADMIN, Role.INSTRUCTOR, Role.TA, Role.STUDENT]


class IdpConfigError(Exception):
    """An identity provider configuration that is refused; the message is for the admin."""


class SignInRefused(Exception):
    """A sign-in the platform will not complete; the message is for the person."""


@dataclass(frozen=True)
class ServiceProviderUrls:
    """What the IdP's operator needs from us."""

    metadata_url: str  # SAML: our SP metadata (also our entity ID)
    acs_url: str  # SAML: where assertions are posted
    sls_url: str  # SAML: single logout
    redirect_uri: str  # OpenID Connect: the redirect URI to register
    post_logout_redirect_uri: str  # OpenID Connect: where its end-session page sends back
    login_url: str  # where people start signing in


def provider_id_for(*, organization: Organization, protocol: str) -> str:
    return f"{protocol}-{organization.slug}"


def sp_urls(idp: IdentityProvider) -> ServiceProviderUrls:
    base = settings.SITE_URL.rstrip("/")
    if idp.protocol == IdentityProvider.Protocol.SAML:
        slug = idp.app.client_id
        return ServiceProviderUrls(
            metadata_url=base + reverse("saml_metadata", args=[slug]),
            acs_url=base + reverse("saml_acs", args=[slug]),
            sls_url=base + reverse("saml_sls", args=[slug]),
            redirect_uri="",
            post_logout_redirect_uri="",
            login_url=base + sign_in_path(idp),
        )
    callback = reverse("openid_connect_callback", kwargs={"provider_id": idp.app.provider_id})
    return ServiceProviderUrls(
        metadata_url="",
        acs_url="",
        sls_url="",
        redirect_uri=base + callback,
        post_logout_redirect_uri=base + reverse("sso_logged_out"),
        login_url=base + sign_in_path(idp),
    )


def _sp_key(*, organization: Organization) -> dict[str, str]:
    """The SP signing key the university's IdP already knows (kept when its metadata is
    replaced), or a new one."""
    existing = SocialApp.objects.filter(
        provider="saml", provider_id=provider_id_for(organization=organization, protocol="saml")
    ).first()
    advanced = (existing.settings or {}).get("advanced", {}) if existing else {}
    if advanced.get("private_key") and advanced.get("x509cert"):
        return {"private_key": advanced["private_key"], "x509cert": advanced["x509cert"]}
    key_pem, certificate = sp_key_pair(common_name=f"{organization.slug} SAML SP")
    return {"private_key": key_pem, "x509cert": certificate}


def _saml_settings(*, organization: Organization, idp: SamlIdp, metadata_url: str) -> dict:
    idp_settings: dict[str, Any] = {"entity_id": idp.entity_id}
    if metadata_url:
        # allauth fetches it again (cached): a rolled-over signing key is picked up.
        idp_settings["metadata_url"] = metadata_url
    else:
        idp_settings.update(sso_url=idp.sso_url, x509cert=idp.signing_certificates[0])
        if idp.slo_url:
            idp_settings["slo_url"] = idp.slo_url
    base = settings.SITE_URL.rstrip("/")
    return {
        "idp": idp_settings,
        # A fixed entity ID: the one the IdP registered, whatever Host a request carries.
        "sp": {"entity_id": base + reverse("saml_metadata", args=[organization.slug])},
        "attribute_mapping": SAML_ATTRIBUTE_MAPPING,
        "advanced": {
            "strict": True,
            "want_assertion_signed": True,
            "reject_deprecated_algorithm": True,
            "reject_idp_initiated_sso": False,
            # Hosts like "sso-test" on an intranet; python3-saml still checks the URLs' form.
            "allow_single_label_domains": True,
            "want_attribute_statement": False,
            "allow_repeat_attribute_name": True,
            # Single logout: what we send is signed, with the key our metadata publishes.
            **_sp_key(organization=organization),
            "logout_request_signed": True,
            "logout_response_signed": True,
        },
    }


def _domains_add(*, organization: Organization, domains: list[str]) -> None:
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain:
            continue
        owner = EmailDomain.objects.filter(domain=domain).select_related("organization").first()
        if owner is None:
            EmailDomain.objects.create(organization=organization, domain=domain)
        elif owner.organization_id != organization.pk:
            raise IdpConfigError(
                _("The domain %(domain)s belongs to %(org)s.")
                % {"domain": domain, "org": owner.organization.name}
            )


def _idp_save(
    *,
    organization: Organization,
    protocol: str,
    app_fields: dict[str, Any],
    actor: User | None,
    sso_only: bool | None,
    role_map: dict[str, str] | None,
    domains: list[str],
) -> IdentityProvider:
    for affiliation, role in (role_map or {}).items():
        if role not in Role.values:
            raise IdpConfigError(
                _("“%(role)s” (for %(affiliation)s) is not a role.")
                % {"role": role, "affiliation": affiliation}
            )
    _domains_add(organization=organization, domains=domains)
    existing = (
        IdentityProvider.objects.select_related("app")
        .filter(organization=organization, protocol=protocol)
        .first()
    )
    if existing is None:
        app = SocialApp.objects.create(**app_fields)
        idp = IdentityProvider.objects.create(
            organization=organization,
            protocol=protocol,
            app=app,
            sso_only=bool(sso_only),
            role_map=dict(role_map or {}),
        )
        action = AuditAction.IDP_ADDED
    else:
        idp = existing
        for field, value in app_fields.items():
            setattr(idp.app, field, value)
        idp.app.save()
        if sso_only is not None:
            idp.sso_only = sso_only
        if role_map is not None:
            idp.role_map = dict(role_map)
        idp.save(update_fields=["sso_only", "role_map"])
        action = AuditAction.IDP_CHANGED
    audit_record(
        organization=organization,
        actor=actor,
        action=action,
        target_type="identity_provider",
        target_id=idp.pk,
        target_label=f"{idp.get_protocol_display()} · {idp.app.name}",
        details={"via": "sso:" + idp.app.name},
    )
    return idp


@transaction.atomic
def idp_saml_set(
    *,
    organization: Organization,
    idp: SamlIdp,
    metadata_url: str = "",
    actor: User | None = None,
    sso_only: bool | None = None,
    role_map: dict[str, str] | None = None,
    domains: list[str] | tuple[str, ...] = (),
) -> IdentityProvider:
    """Add (or replace) the university's SAML identity provider, described by `idp` (read
    from its metadata; `metadata_url` when it should be read again as keys roll over)."""
    app_fields = {
        "provider": "saml",
        "provider_id": provider_id_for(organization=organization, protocol="saml"),
        "name": organization.name[:40],
        "client_id": organization.slug,
        "secret": "",
        "settings": _saml_settings(organization=organization, idp=idp, metadata_url=metadata_url),
    }
    return _idp_save(
        organization=organization,
        protocol=IdentityProvider.Protocol.SAML,
        app_fields=app_fields,
        actor=actor,
        sso_only=sso_only,
        role_map=role_map,
        domains=list(domains),
    )


@transaction.atomic
def idp_oidc_set(
    *,
    organization: Organization,
    discovery_url: str,
    client_id: str,
    client_secret: str,
    actor: User | None = None,
    sso_only: bool | None = None,
    role_map: dict[str, str] | None = None,
    domains: list[str] | tuple[str, ...] = (),
) -> IdentityProvider:
    """Add (or replace) the university's OpenID Connect provider. The caller checked the
    discovery document (campus.sso.metadata.oidc_discovery_fetch)."""
    if not client_id:
        raise IdpConfigError(_("A client id is required."))
    app_fields = {
        "provider": "openid_connect",
        "provider_id": provider_id_for(organization=organization, protocol="oidc"),
        "name": organization.name[:40],
        "client_id": client_id,
        "secret": client_secret,
        "settings": {
            "server_url": discovery_url,
            "oauth_pkce_enabled": True,
            "fetch_userinfo": True,
        },
    }
    return _idp_save(
        organization=organization,
        protocol=IdentityProvider.Protocol.OIDC,
        app_fields=app_fields,
        actor=actor,
        sso_only=sso_only,
        role_map=role_map,
        domains=list(domains),
    )


@transaction.atomic
def idp_options_set(
    *,
    idp: IdentityProvider,
    actor: User | None,
    sso_only: bool,
    default_role: str,
    role_map: dict[str, str],
) -> IdentityProvider:
    """Change what the provider's sign-ins may do (not its protocol settings)."""
    if default_role not in Role.values or any(r not in Role.values for r in role_map.values()):
        raise IdpConfigError(_("Choose one of the listed roles."))
    idp.sso_only = sso_only
    idp.default_role = default_role
    idp.role_map = dict(role_map)
    idp.save(update_fields=["sso_only", "default_role", "role_map"])
    audit_record(
        organization=idp.organization,
        actor=actor,
        action=AuditAction.IDP_CHANGED,
        target_type="identity_provider",
        target_id=idp.pk,
        target_label=f"{idp.get_protocol_display()} · {idp.app.name}",
        details={"sso_only": sso_only, "role": default_role, "role_map": dict(role_map)},
    )
    return idp


@transaction.atomic
def idp_remove(*, idp: IdentityProvider, actor: User | None) -> None:
    """Remove the provider. Accounts it created keep their other ways in (or get a password
    by reset); their links stay, and work again if the same provider is added back."""
    audit_record(
        organization=idp.organization,
        actor=actor,
        action=AuditAction.IDP_REMOVED,
        target_type="identity_provider",
        target_id=idp.pk,
        target_label=f"{idp.get_protocol_display()} · {idp.app.name}",
    )
    idp.app.delete()  # cascades to the IdentityProvider row


def role_for(*, idp: IdentityProvider, affiliations: frozenset[str]) -> str:
    """The most privileged role that the person's affiliations map to."""
    mapping = {k.strip().lower(): v for k, v in (idp.role_map or {}).items()}
    roles = {mapping.get(a, idp.default_role) for a in affiliations} or {idp.default_role}
    return next(r for r in ROLE_ORDER if r in roles)


def sso_member_ensure(
    *, idp: IdentityProvider, user: User, affiliations: frozenset[str]
) -> Membership:
    """The person's membership of the IdP's university, created with the mapped role (an
    existing membership keeps its role: admins change roles, not assertions)."""
    return membership_ensure(
        actor=None,
        user=user,
        organization=idp.organization,
        role=role_for(idp=idp, affiliations=affiliations),
        via="sso:" + idp.app.name,
    )


def sso_account_for_email(*, idp: IdentityProvider, assertion: Assertion) -> User | None:
    """The existing account that this sign-in may be linked to by its email, if any.

    Only addresses in the university's domains reach here (see attributes.assertion_of).
    Refuses accounts with administrator rights: those link by hand, after their own login.
    """
    if not assertion.email:
        return None
    user = User.objects.filter(email__iexact=assertion.email).first()
    if user is None:
        address = (
            EmailAddress.objects.filter(email__iexact=assertion.email, verified=True)
            .select_related("user")
            .first()
        )
        user = address.user if address is not None else None
    if user is not None and (user.is_staff or user.is_superuser):
        raise SignInRefused(
            _(
                "The account %(email)s has administrator rights, so university sign-in is not "
                "linked to it automatically. Log in with its password, then connect your "
                "university account from the account page."
            )
            % {"email": assertion.email}
        )
    return user


@transaction.atomic
def sso_account_link(
    *, idp: IdentityProvider, user: User, assertion: Assertion, uid: str
) -> Membership:
    """Link a first sign-in to the existing account `user` holding the asserted address.

    When that account never proved it holds the address (someone registered it and never
    verified), whatever that someone set up is removed first: password, other addresses,
    other sign-ins, second factors. The university has now proved whose address it is.
    """
    address = EmailAddress.objects.filter(user=user, email__iexact=assertion.email).first()
    secured = address is None or not address.verified
    if secured:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        EmailAddress.objects.filter(user=user).exclude(email__iexact=assertion.email).delete()
        SocialAccount.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
    EmailAddress.objects.update_or_create(
        user=user,
        email=assertion.email if address is None else address.email,
        defaults={"verified": True, "primary": user.email.lower() == assertion.email},
    )
    audit_record(
        organization=idp.organization,
        actor=None,
        action=AuditAction.SSO_ACCOUNT_LINKED,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        target_user=user,
        details={"via": "sso:" + idp.app.name, "uid": uid, "secured": secured},
    )
    return sso_member_ensure(idp=idp, user=user, affiliations=assertion.affiliations)


@transaction.atomic
def sso_account_created(
    *, idp: IdentityProvider, user: User, assertion: Assertion, uid: str
) -> Membership:
    """Record a just-in-time account and give it its place in the university."""
    audit_record(
        organization=idp.organization,
        actor=None,
        action=AuditAction.SSO_ACCOUNT_CREATED,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        target_user=user,
        details={
            "via": "sso:" + idp.app.name,
            "uid": uid,
            "affiliations": sorted(assertion.affiliations),
        },
    )
    return sso_member_ensure(idp=idp, user=user, affiliations=assertion.affiliations)
