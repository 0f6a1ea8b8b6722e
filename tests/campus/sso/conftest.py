"""University sign-in fixtures: a university that owns univ.example, and real providers."""

from collections.abc import Iterator
from io import StringIO
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.core.management import call_command

from campus.models import Organization
from tests.support.oidc_provider import OidcProvider, oidc_provider


@pytest.fixture
def oidc() -> Iterator[OidcProvider]:
    with oidc_provider() as provider:
        yield provider


@pytest.fixture
def univ(db: None) -> Organization:
    return Organization.objects.create(name="Université Exemple", slug="univ", country="FR")


def sso_add(*args: str) -> str:
    out = StringIO()
    call_command("sso_add", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def univ_oidc(univ: Organization, oidc: OidcProvider) -> OidcProvider:
    sso_add(
        "--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", oidc.client_id,
        "--client-secret", oidc.client_secret, "--domain", "univ.example",
        "--role", "faculty=instructor",
    )  # fmt: skip
    return oidc


def oidc_sign_in(client, provider: OidcProvider, provider_id: str = "oidc-univ", **claims):
    """The browser's trip: our login → the provider → our callback. Returns the callback's
    response."""
    provider.user = claims
    start = client.post(f"/accounts/oidc/{provider_id}/login/")
    assert start.status_code == 302, start
    back = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def signed_in_email(client) -> str | None:
    from campus.models import User

    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).email if user_id else None


SP_ENTITY_ID = "http://127.0.0.1:8000/accounts/saml/univ/metadata/"
ACS_URL = "http://testserver/accounts/saml/univ/acs/"
SLS_URL = "http://testserver/accounts/saml/univ/sls/"


@pytest.fixture(scope="session")
def idp_keys():
    from tests.support.saml_idp import key_pair

    return key_pair("idp.univ.example")


@pytest.fixture
def saml_idp(idp_keys):
    from tests.support.saml_idp import SamlIdp

    return SamlIdp(keys=idp_keys, acs_url=ACS_URL, audience=SP_ENTITY_ID, sls_url=SLS_URL)


@pytest.fixture
def univ_saml(univ: Organization, saml_idp, tmp_path):
    metadata = tmp_path / "idp-metadata.xml"
    metadata.write_text(saml_idp.metadata())
    sso_add(
        "--org", "univ", "--saml-metadata-file", str(metadata), "--domain", "univ.example",
        "--role", "faculty=instructor",
    )  # fmt: skip
    return saml_idp


def saml_post(client, saml_response: str, relay_state: str | None = None, slug: str = "univ"):
    """Post a Response to our ACS like a browser would, and follow to the finish view."""
    data = {"SAMLResponse": saml_response}
    if relay_state is not None:
        data["RelayState"] = relay_state
    posted = client.post(f"/accounts/saml/{slug}/acs/", data)
    assert posted.status_code == 302, posted
    return client.get(posted["Location"])


def saml_sp_initiated(client, slug: str = "univ") -> str:
    """Start a sign-in at our SP; returns the AuthnRequest's ID (what the IdP answers)."""
    from tests.support.saml_idp import authn_request

    start = client.post(f"/accounts/saml/{slug}/login/")
    assert start.status_code == 302, start
    query = parse_qs(urlparse(start["Location"]).query)
    return authn_request(query["SAMLRequest"][0]).get("ID")


@pytest.fixture
def client():
    """Browsers send Host; python3-saml builds URLs from it (Django's client sends none)."""
    from django.test import Client

    return Client(HTTP_HOST="testserver")
