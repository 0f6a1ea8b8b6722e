"""allauth's SAML and OpenID Connect providers, with what 65.21.1 leaves open closed.

Installed through SOCIALACCOUNT_PROVIDERS[...]["provider_class"]; the OpenID Connect views
that allauth binds to its own adapter are replaced in campus/sso/urls.py.
"""

import secrets
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from django.http import HttpRequest

from campus.sso import oidc, replay

NONCE_STATE_KEY = "oidc_nonce"
# Single logout: what a sign-in leaves for campus.sso.logout, in sociallogin.state (the
# adapter moves it there; it survives an MFA stage), then in the session.
SSO_LOGOUT_STATE_KEY = "sso_logout"


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


class VerifiedOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    """Verifies every id_token's signature against the JWKS, checks its nonce against the
    one this browser's sign-in sent, and that userinfo describes the same subject."""

    expected_nonce: str | None = None

    def _decode_id_token(self, app: Any, id_token: str) -> dict[str, Any]:
        config = self.openid_config
        return oidc.verified_id_token(
            token=id_token,
            jwks_uri=config["jwks_uri"],
            issuer=config["issuer"],
            client_id=app.client_id,
            nonce=self.expected_nonce,
        )

    def complete_login(self, request: HttpRequest, app: Any, token: Any, **kwargs: Any) -> Any:
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise OAuth2Error("The provider sent no id_token: is it an OpenID Connect provider?")
        data: dict[str, Any] = {"id_token": self._decode_id_token(app, id_token)}
        if app.settings.get("fetch_userinfo", True) and self.openid_config.get("userinfo_endpoint"):
            userinfo = self._fetch_user_info(token.token)
            if userinfo.get("sub") != data["id_token"]["sub"]:
                raise OAuth2Error("userinfo describes another subject than the id_token")
            data["userinfo"] = userinfo
        login = self.get_provider().sociallogin_from_response(request, data)
        # For single logout (id_token_hint); the adapter moves it into login.state.
        login.sso_logout = oidc_login_record(provider_id=app.provider_id, id_token=id_token)
        return login


class VerifiedOpenIDConnectProvider(OpenIDConnectProvider):
    # allauth finds a provider's URLs in its package: allauth's (ours override two views).
    package = "allauth.socialaccount.providers.openid_connect"
    oauth2_adapter_class = VerifiedOpenIDConnectAdapter
    pkce_enabled_default = True

    def get_pkce_params(self) -> dict[str, Any]:
        # PKCE always (S256), whatever an app's settings say.
        return dict(generate_code_challenge())

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: Any = None,
        data: Any = None,
        **kwargs: Any,
    ) -> Any:
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        kwargs["auth_params"] = {**auth_params, "nonce": nonce}
        kwargs[NONCE_STATE_KEY] = nonce
        return super().redirect(request, process, next_url, data, **kwargs)


class ReplaySafeSAMLProvider(SAMLProvider):
    """Refuses a SAML Response (or Assertion) whose ID was accepted before: allauth 65.21.1
    remembers none, so a captured IdP-initiated Response would sign its person in again."""

    package = "allauth.socialaccount.providers.saml"

    def sociallogin_from_response(self, request: HttpRequest, response: Any) -> Any:
        try:
            replay.saml_response_accept(
                issuer=self.app.provider_id,
                message_id=response.get_last_message_id(),
                assertion_id=response.get_last_assertion_id(),
                not_on_or_after=response.get_last_assertion_not_on_or_after(),
            )
        except replay.ReplayedError as error:
            raise ImmediateHttpResponse(
                render_authentication_error(request, self, exception=error)
            ) from error
        login = super().sociallogin_from_response(request, response)
        # For single logout (NameID, SessionIndex); the adapter moves it into login.state.
        login.sso_logout = saml_login_record(slug=self.app.client_id, auth=response)
        return login
