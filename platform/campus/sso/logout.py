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

from allauth.socialaccount.providers.saml.utils import get_app_or_404
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.urls import reverse

from campus.sso.providers import VerifiedOpenIDConnectAdapter
from campus.sso.saml_logout import IdpLogout, saml_logout_start
from campus.sso.selectors import idp_for_provider_id

# What the sign-in left for the logout: {"protocol": "saml" | "oidc", ...}, carried from
# the sign-in in sociallogin.state[SSO_LOGOUT_STATE_KEY] (it survives an MFA stage).
SESSION_KEY = "sso_logout"
# Set in the fresh session after the local logout, popped by the answer (single use).
PENDING_SAML_KEY = "sso_logout_saml_pending"
PENDING_OIDC_KEY = "sso_logout_oidc_state"
# The university whose sign-out the logged-out page confirms.
SIGNED_OUT_AT_KEY = "sso_signed_out_at"


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


def university_name(provider_id: str) -> str:
    idp = idp_for_provider_id(provider_id)
    return idp.organization.name if idp else ""


def sso_logout_departure(
    *, request: HttpRequest, record: dict[str, Any]
) -> tuple[str, str, Any] | None:
    """Where the browser goes to end the provider's session too, and what the fresh session
    keeps to check the answer: (url, session key, value). None: local logout only."""
    if record.get("protocol") == "saml":
        provider = get_app_or_404(request, record["slug"]).get_provider(request)
        started = saml_logout_start(
            request=request, provider=provider, record=record, return_to=logged_out_url()
        )
        if started is None:
            return None
        saml_url, request_id = started
        return saml_url, PENDING_SAML_KEY, {"slug": record["slug"], "request_id": request_id}
    if record.get("protocol") == "oidc":
        adapter = VerifiedOpenIDConnectAdapter(request, record["provider_id"])
        app = adapter.get_provider().app
        state = secrets.token_urlsafe(32)
        url = oidc_end_session_url(
            config=adapter.openid_config,
            client_id=app.client_id,
            id_token=record["id_token"],
            state=state,
        )
        if url is None:
            return None
        pending = {"state": state, "university": university_name(app.provider_id)}
        return url, PENDING_OIDC_KEY, pending
    return None


def idp_logout_ends_this_session(*, request: HttpRequest, slug: str, idp_logout: IdpLogout) -> bool:
    """Whether the IdP's LogoutRequest names the sign-in of this browser's session."""
    record = request.session.get(SESSION_KEY)
    if not request.user.is_authenticated or not isinstance(record, dict):
        return False
    if record.get("protocol") != "saml" or record.get("slug") != slug:
        return False
    if not idp_logout.name_id or record.get("name_id") != idp_logout.name_id:
        return False
    indexes = idp_logout.session_indexes
    return not indexes or record.get("session_index") in indexes
