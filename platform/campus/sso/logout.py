"""Single logout, where the identity provider offers it.

At sign-in we keep, in the person's session, what their provider needs to end its own
session later: for SAML the NameID and SessionIndex of the assertion, for OpenID Connect the
raw id_token (sent back as id_token_hint). Logging out here ends the local session first,
then sends the browser to the provider with a signed LogoutRequest (SAML) or to its
end_session_endpoint (OpenID Connect), and checks the answer that comes back.

IdP-initiated SAML logout: allauth 65.21.1 accepts unsigned LogoutRequests, and python3-saml
would require signatures only through wantMessagesSigned, which also requires signed login
Responses (many IdPs sign only the Assertion). So campus.sso.saml_logout checks them itself.
"""

import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.urls import reverse

# What the sign-in left for the logout: {"protocol": "saml" | "oidc", ...}.
SESSION_KEY = "sso_logout"
# Where the sign-in carries it until the login (sociallogin.state survives an MFA stage).
SSO_LOGOUT_STATE_KEY = "sso_logout"
# Set in the fresh session after the local logout, popped by the answer (single use).
PENDING_SAML_KEY = "sso_logout_saml_pending"
PENDING_OIDC_KEY = "sso_logout_oidc_state"
# The university whose sign-out the logged-out page confirms.
SIGNED_OUT_AT_KEY = "sso_signed_out_at"


def saml_login_record(*, slug: str, auth: Any) -> dict[str, Any]:
    """What a LogoutRequest for this SAML sign-in needs, from python3-saml's processed
    Response."""
    return {
        "protocol": "saml",
        "slug": slug,
        "name_id": auth.get_nameid(),
        "name_id_format": auth.get_nameid_format(),
        "nq": auth.get_nameid_nq(),
        "spnq": auth.get_nameid_spnq(),
        "session_index": auth.get_session_index(),
    }


def oidc_login_record(*, provider_id: str, id_token: str) -> dict[str, Any]:
    return {"protocol": "oidc", "provider_id": provider_id, "id_token": id_token}


def sso_logout_remember(*, session: SessionBase, record: dict[str, Any] | None) -> None:
    """Keep what the sign-in's provider needs for single logout (after login: Django's
    login() may flush the session)."""
    if record:
        session[SESSION_KEY] = record


def logged_out_url() -> str:
    """The absolute URL of the logged-out page (what providers are told to come back to)."""
    return settings.SITE_URL.rstrip("/") + reverse("sso_logged_out")


def oidc_end_session_url(
    *, config: dict[str, Any], client_id: str, id_token: str, state: str
) -> str | None:
    """The provider's end-session URL for this sign-in (RP-Initiated Logout 1.0), or None
    when its discovery document names no end_session_endpoint: local logout only."""
    endpoint = config.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": logged_out_url(),
            "state": state,
            "client_id": client_id,
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def oidc_return_accept(*, session: SessionBase, state: str) -> str | None:
    """The university whose end-session page sent the browser back with `state`, when that
    is the state our last end-session redirect sent (usable once); otherwise None."""
    pending = session.pop(PENDING_OIDC_KEY, None) or {}
    expected = str(pending.get("state") or "")
    if expected and state and secrets.compare_digest(expected, state):
        return str(pending.get("university") or "")
    return None
