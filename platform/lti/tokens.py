"""Validating the id_token a platform posts: signature against the platform's JWKS, issuer,
audience, authorized party, expiry, nonce (once), deployment. Also the platform's keys
(cached) and the client-credentials grant that gives us service access tokens.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lti import claims, keys, outbound
from lti.models import Deployment, LaunchState, Registration

STATE_TTL = timedelta(minutes=10)
JWKS_TTL_S = 600
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512"]
CLOCK_SKEW = timedelta(seconds=60)


class LaunchError(Exception):
    """A launch that is refused; the message says why and is safe to show."""


@dataclass(frozen=True)
class ValidLaunch:
    registration: Registration
    deployment: Deployment
    claims: dict[str, Any]

    @property
    def message_type(self) -> str:
        return str(self.claims[claims.MESSAGE_TYPE])


def state_create(
    *, registration: Registration, target_link_uri: str, storage_target: str = ""
) -> LaunchState:
    return LaunchState.objects.create(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        registration=registration,
        target_link_uri=target_link_uri,
        storage_target=storage_target[:100],
        created_at=timezone.now(),
    )


def state_kept_by_platform(*, state: str, now: datetime | None = None) -> LaunchState | None:
    """The pending login `state` names, when it kept its state and nonce in the LMS's
    storage (LTI Platform Storage); None otherwise. Spends nothing."""
    now = now or timezone.now()
    return (
        LaunchState.objects.select_related("registration")
        .filter(state=state, used_at__isnull=True, created_at__gt=now - STATE_TTL)
        .exclude(storage_target="")
        .first()
    )


def _state_use(*, state: str, now: datetime) -> LaunchState:
    """The login's state, marked used: exactly one launch may end a login."""
    used = LaunchState.objects.filter(
        state=state, used_at__isnull=True, created_at__gt=now - STATE_TTL
    ).update(used_at=now)
    if used != 1:
        raise LaunchError(
            _("This launch has expired or was already used. Open the link in your LMS again.")
        )
    return LaunchState.objects.select_related("registration").get(state=state)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def platform_keys(*, registration: Registration, refresh: bool = False) -> dict[str, Any]:
    cache_key = "lti:jwks:" + _digest(registration.keyset_url)
    jwks = None if refresh else cache.get(cache_key)
    if jwks is None:
        try:
            jwks = outbound.get_json(registration.keyset_url)
        except outbound.PlatformError as error:
            raise LaunchError(_("The LMS's keys could not be fetched: %s") % error) from None
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise LaunchError(_("The LMS's key set is not a JWKS."))
        cache.set(cache_key, jwks, JWKS_TTL_S)
    return jwks


def _platform_key(*, registration: Registration, kid: str | None) -> Any:
    for refresh in (False, True):
        # An unknown kid may be a rotation on the platform's side: fetch once more.
        jwks = platform_keys(registration=registration, refresh=refresh)
        candidates = [k for k in jwks["keys"] if kid is None or k.get("kid") == kid]
        if candidates:
            try:
                return jwt.PyJWK(candidates[0]).key
            except jwt.PyJWTError as error:
                raise LaunchError(_("The LMS's key is unusable: %s") % error) from None
    raise LaunchError(_("The launch was signed with a key the LMS does not publish."))


def verify_platform_jwt(
    *, token: str, registration: Registration, now: datetime, nonce: str | None
) -> dict[str, Any]:
    """The claims of a JWT the platform signed for us, every check applied."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise LaunchError(_("The launch token is not a JWT.")) from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise LaunchError(_("The launch token's algorithm is not allowed."))
    key = _platform_key(registration=registration, kid=header.get("kid"))
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=ALLOWED_ALGORITHMS,
            audience=registration.client_id,
            issuer=registration.issuer,
            # Time is checked below against `now`, so tests can inject the clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["exp", "iat", "iss", "aud", "sub"],
            },
        )
    except jwt.InvalidSignatureError:
        raise LaunchError(_("The launch token's signature is not the LMS's.")) from None
    except jwt.InvalidAudienceError:
        raise LaunchError(_("The launch token is meant for another tool.")) from None
    except jwt.InvalidIssuerError:
        raise LaunchError(_("The launch token comes from another LMS.")) from None
    except jwt.PyJWTError as error:
        raise LaunchError(_("The launch token is invalid: %s") % error) from None
    _check_times(payload, now)
    audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
    azp = payload.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != registration.client_id:
        raise LaunchError(_("The launch token's authorized party is not this tool."))
    if nonce is not None and not secrets.compare_digest(str(payload.get("nonce", "")), nonce):
        raise LaunchError(_("The launch token's nonce does not match this login."))
    return payload


def _check_times(payload: dict[str, Any], now: datetime) -> None:
    try:
        exp = datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo)
        iat = datetime.fromtimestamp(int(payload["iat"]), tz=now.tzinfo)
    except (TypeError, ValueError, OverflowError):
        raise LaunchError(_("The launch token's times are not numbers.")) from None
    if exp < now - CLOCK_SKEW:
        raise LaunchError(_("The launch token has expired. Open the link in your LMS again."))
    if iat > now + CLOCK_SKEW:
        raise LaunchError(_("The launch token was issued in the future."))


@transaction.atomic
def launch_validate(*, id_token: str, state: str, now: datetime | None = None) -> ValidLaunch:
    """A launch's id_token, fully checked, for the login that `state` names.

    The state is spent first: a replayed post (same state, same nonce) fails even when its
    token is valid.
    """
    now = now or timezone.now()
    login = _state_use(state=state, now=now)
    registration = login.registration
    if not registration.active:
        raise LaunchError(_("This LMS registration has been revoked by the university."))
    payload = verify_platform_jwt(
        token=id_token, registration=registration, now=now, nonce=login.nonce
    )
    if payload.get(claims.VERSION) != "1.3.0":
        raise LaunchError(_("Only LTI 1.3 launches are supported."))
    if payload.get(claims.MESSAGE_TYPE) not in (
        claims.RESOURCE_LINK_REQUEST,
        claims.DEEP_LINKING_REQUEST,
    ):
        raise LaunchError(_("This kind of LTI message is not supported."))
    if not str(payload.get("sub", "")).strip():
        raise LaunchError(_("Anonymous launches are not supported: the LMS sent no user."))
    if not isinstance(payload.get(claims.ROLES, []), list):
        raise LaunchError(_("The launch token's roles are not a list."))
    deployment = _deployment(registration=registration, payload=payload)
    return ValidLaunch(registration=registration, deployment=deployment, claims=payload)


def _deployment(*, registration: Registration, payload: dict[str, Any]) -> Deployment:
    deployment_id = str(payload.get(claims.DEPLOYMENT_ID, "")).strip()
    if not deployment_id:
        raise LaunchError(_("The launch token names no deployment."))
    deployment = registration.deployments.filter(deployment_id=deployment_id).first()
    if deployment is not None:
        return deployment
    if registration.deployments_open:
        deployment, _created = Deployment.objects.get_or_create(
            registration=registration, deployment_id=deployment_id
        )
        return deployment
    raise LaunchError(
        _(
            "This LMS deployment (%(id)s) is not known here. A university admin can add it "
            "to the LMS registration under Universities."
        )
        % {"id": deployment_id}
    )


def service_token(*, registration: Registration, scopes: list[str]) -> str:
    """An access token for the platform's services (client credentials, signed JWT)."""
    cache_key = "lti:token:" + _digest(
        registration.auth_token_url, registration.client_id, *sorted(scopes)
    )
    token = cache.get(cache_key)
    if token:
        return str(token)
    now = timezone.now()
    assertion = keys.sign(
        {
            "iss": registration.client_id,
            "sub": registration.client_id,
            "aud": registration.token_audience or registration.auth_token_url,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
    )
    answer = outbound.post_form(
        registration.auth_token_url,
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        },
    )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not token:
        raise outbound.PlatformError("the token endpoint gave no access token", retry=False)
    expires_in = int(answer.get("expires_in", 3600))
    cache.set(cache_key, token, max(expires_in - 60, 30))
    return str(token)
