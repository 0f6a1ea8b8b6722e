"""LTI Dynamic Registration (IMS): the LMS opens our registration URL with its
openid-configuration URL and a one-time token; we read the configuration, register our tool
at its registration endpoint, and keep the registration for the university the URL names.

The registration URL carries a signed token naming the university: whoever pastes it into
an LMS registers that LMS for that university, so only its admins are shown it.
"""

from typing import Any
from urllib.parse import urlsplit

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campus.models import Organization, User
from campus.services import audit_record
from lti import claims, outbound
from lti.models import Deployment, Registration

SALT = "lti-dynamic-registration"
TOKEN_MAX_AGE_S = 90 * 24 * 3600
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"


class RegistrationError(Exception):
    """A registration that could not be made; the message says why."""


def registration_token(*, organization: Organization) -> str:
    return signing.dumps({"org": organization.pk}, salt=SALT)


def organization_of_token(token: str) -> Organization:
    try:
        value = signing.loads(token, salt=SALT, max_age=TOKEN_MAX_AGE_S)
    except signing.BadSignature:
        raise RegistrationError(
            _(
                "This registration URL is not valid or has expired. Copy a new one from the "
                "university's LTI page."
            )
        ) from None
    organization = Organization.objects.filter(pk=value.get("org")).first()
    if organization is None:
        raise RegistrationError(_("The university of this registration URL no longer exists."))
    return organization


def tool_configuration(*, base_url: str, name: str) -> dict[str, Any]:
    """Our client metadata (OpenID Connect registration + the LTI tool configuration)."""
    launch = base_url + "/lti/launch/"
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": base_url + "/lti/login/",
        "redirect_uris": [launch],
        "client_name": name,
        "jwks_uri": base_url + "/lti/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(claims.TOOL_SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(base_url).netloc,
            "target_link_uri": launch,
            "description": _("Notebook exercises graded in a sandbox, open AI models."),
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": claims.RESOURCE_LINK_REQUEST, "target_link_uri": launch},
                {
                    "type": claims.DEEP_LINKING_REQUEST,
                    "target_link_uri": launch,
                    "label": name,
                },
            ],
        },
    }


def _platform_configuration(url: str) -> dict[str, Any]:
    try:
        config = outbound.get_json(url)
    except outbound.PlatformError as error:
        raise RegistrationError(
            _("The LMS's configuration could not be read: %s") % error
        ) from None
    if not isinstance(config, dict):
        raise RegistrationError(_("The LMS's configuration is not a JSON object."))
    missing = [
        k
        for k in (
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "registration_endpoint",
        )
        if not isinstance(config.get(k), str) or not config[k]
    ]
    if missing:
        raise RegistrationError(
            _("The LMS's configuration lacks %(names)s.") % {"names": ", ".join(missing)}
        )
    # The spec: the configuration's issuer must be the prefix of the URL it was read from, so
    # one LMS cannot hand us another's issuer.
    if not url.startswith(config["issuer"].rstrip("/")):
        raise RegistrationError(_("The LMS's issuer does not match its configuration URL."))
    return config


def registration_register(
    *,
    organization: Organization,
    openid_configuration_url: str,
    registration_token: str,
    base_url: str,
    tool_name: str,
) -> Registration:
    """Register with the LMS and keep its registration for `organization`."""
    config = _platform_configuration(openid_configuration_url)
    try:
        answer = outbound.post_json(
            config["registration_endpoint"],
            tool_configuration(base_url=base_url, name=tool_name),
            token=registration_token or None,
        )
    except outbound.PlatformError as error:
        raise RegistrationError(_("The LMS refused the registration: %s") % error) from None
    if not isinstance(answer, dict) or not answer.get("client_id"):
        raise RegistrationError(_("The LMS's registration answer has no client_id."))
    platform = config.get(PLATFORM_CONFIGURATION) or {}
    deployment_id = str((answer.get(TOOL_CONFIGURATION) or {}).get("deployment_id") or "")
    with transaction.atomic():
        registration, created = Registration.objects.update_or_create(
            issuer=config["issuer"],
            client_id=str(answer["client_id"]),
            defaults={
                "organization": organization,
                "name": str(
                    platform.get("product_family_code") or urlsplit(config["issuer"]).netloc
                )[:200],
                "auth_login_url": config["authorization_endpoint"],
                "auth_token_url": config["token_endpoint"],
                "keyset_url": config["jwks_uri"],
                "token_audience": str(config.get("authorization_server") or ""),
                "registration_endpoint": config["registration_endpoint"],
                "product": str(platform.get("product_family_code") or "")[:100],
                "scopes": str(answer.get("scope") or "").split(),
                # No deployment named: the LMS makes them when the tool is placed.
                "deployments_open": not deployment_id,
                "active": True,
                "revoked_at": None,
            },
        )
        if deployment_id:
            Deployment.objects.get_or_create(registration=registration, deployment_id=deployment_id)
        _audit(registration, actor=None, action="registered" if created else "re-registered")
    return registration


def _audit(registration: Registration, *, actor: User | None, action: str, **details: Any) -> None:
    audit_record(
        organization=registration.organization,
        actor=actor,
        # Not among campus's AuditAction choices (that would be a migration of campus): the
        # audit log shows the code, which reads as what happened.
        action="lti_" + action,
        target_type="lti_registration",
        target_id=registration.pk,
        target_label=str(registration),
        details={"issuer": registration.issuer, "client_id": registration.client_id, **details},
    )


@transaction.atomic
def registration_revoke(*, actor: User, registration: Registration) -> None:
    """No launch, grade or roster call of this LMS is accepted or made any more."""
    Registration.objects.filter(pk=registration.pk).update(active=False, revoked_at=timezone.now())
    _audit(registration, actor=actor, action="revoked")


@transaction.atomic
def deployment_add(*, actor: User, registration: Registration, deployment_id: str) -> Deployment:
    deployment, _created = Deployment.objects.get_or_create(
        registration=registration, deployment_id=deployment_id.strip()[:300]
    )
    _audit(registration, actor=actor, action="deployment_added", deployment=deployment_id)
    return deployment
