"""OpenID Connect RP-initiated logout: logging out here sends the browser to the provider's
end_session_endpoint with the id_token it issued at sign-in, and its way back is accepted
only with the state we sent, once. Without an end_session_endpoint: local logout only."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.campus.sso.conftest import oidc_sign_in, signed_in_email
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGGED_OUT = "http://127.0.0.1:8000/accounts/logged-out/"  # SITE_URL + the page


def _logout_here(client, provider) -> dict[str, str]:
    response = client.post("/accounts/logout/")
    assert response.status_code == 302, response
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.url}/logout"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _provider_sends_back(params: dict[str, str], provider) -> str:
    """The browser at the provider's end-session page: where it is sent back to (a path and
    query on our site)."""
    back = requests.get(f"{provider.url}/logout", params=params, allow_redirects=False, timeout=10)
    assert back.status_code == 302
    location = urlparse(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LOGGED_OUT
    return f"{location.path}?{location.query}"


def test_logging_out_here_ends_the_session_at_the_provider_too(client, univ_oidc) -> None:
    # given Ada signed in through the university's provider
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    id_token = univ_oidc.issued_id_tokens[-1]
    # when she logs out here
    params = _logout_here(client, univ_oidc)
    # then her session here is over, and the provider is asked to end its own
    assert signed_in_email(client) is None
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == LOGGED_OUT
    assert params["client_id"] == univ_oidc.client_id
    assert len(params["state"]) >= 32
    # and coming back with the state lands on the logged-out page
    page = client.get(_provider_sends_back(params, univ_oidc))
    assert page.status_code == 200
    assert "Université Exemple" in page.content.decode()


def test_a_return_with_another_state_is_refused(client, univ_oidc) -> None:
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    params = _logout_here(client, univ_oidc)
    page = client.get(_provider_sends_back({**params, "state": "forged"}, univ_oidc))
    assert page.status_code == 400
    assert "Université Exemple" not in page.content.decode()


def test_the_state_is_accepted_once(client, univ_oidc) -> None:
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    back = _provider_sends_back(_logout_here(client, univ_oidc), univ_oidc)
    assert client.get(back).status_code == 200
    assert client.get(back).status_code == 400


def test_a_provider_without_end_session_gets_a_local_logout(client, univ_oidc) -> None:
    univ_oidc.end_session = False
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    response = client.post("/accounts/logout/")
    assert signed_in_email(client) is None
    assert response.status_code == 302
    assert not response["Location"].startswith(univ_oidc.url)
    assert univ_oidc.end_session_requests == []


def test_a_password_login_logs_out_locally(client) -> None:
    user = UserFactory(email="pat@example.org")
    client.force_login(user)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert signed_in_email(client) is None
    assert response["Location"].startswith("/")
