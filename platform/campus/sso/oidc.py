"""OpenID Connect id_token verification, always against the provider's JWKS.

allauth 65.21.1 skips the signature check when it fetched the token from the token endpoint
itself (OIDC Core allows it over TLS). We do not: a misissued TLS certificate, a proxy or a
token endpoint reached over plain HTTP would otherwise mint identities.
"""

from typing import Any

import jwt
import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error

# Asymmetric algorithms only: "none" and HMAC (a client secret as the key) are refused.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
CLOCK_SKEW_S = 60


class IdTokenError(OAuth2Error):
    """The id_token is not one this provider signed for us, now."""


def _jwks(jwks_uri: str) -> list[dict[str, Any]]:
    with get_adapter().get_requests_session() as session:
        response = session.get(jwks_uri)
        response.raise_for_status()
        keys = response.json().get("keys")
    if not isinstance(keys, list):
        raise IdTokenError("The provider's JWKS has no keys")
    return [k for k in keys if isinstance(k, dict)]


def _signing_key(token: str, jwks_uri: str) -> tuple[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise IdTokenError("The id_token is not a JWT") from error
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise IdTokenError(f"The id_token's algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    try:
        keys = _jwks(jwks_uri)
    except (requests.RequestException, ValueError) as error:
        raise IdTokenError("The provider's JWKS could not be read") from error
    for data in keys:
        if kid is not None and data.get("kid") != kid:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        try:
            return alg, jwt.PyJWK(data, algorithm=alg).key
        except jwt.PyJWTError:
            continue
    raise IdTokenError("No key of the provider's JWKS signs this id_token")


def verified_id_token(
    *, token: str, jwks_uri: str, issuer: str, client_id: str, nonce: str | None
) -> dict[str, Any]:
    """The id_token's claims once its signature (by a key of `jwks_uri`), issuer, audience,
    expiry and nonce are checked. Raises IdTokenError otherwise."""
    alg, key = _signing_key(token, jwks_uri)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            leeway=CLOCK_SKEW_S,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise IdTokenError(f"The id_token is not valid: {error}") from error
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("The id_token was issued to another party (azp)")
    if nonce is None or claims.get("nonce") != nonce:
        raise IdTokenError("The id_token does not answer this sign-in (nonce)")
    return claims
