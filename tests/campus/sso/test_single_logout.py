"""Single logout where the IdP offers it: a SAML LogoutRequest from the IdP (HTTP-Redirect
binding) ends the person's session here and is answered with a LogoutResponse."""

import base64
import datetime as dt
import uuid
import zlib
from urllib.parse import parse_qs, urlparse

import pytest

from tests.campus.sso.conftest import saml_post, signed_in_email
from tests.campus.sso.test_saml import ADA, _response

pytestmark = pytest.mark.django_db


def _logout_request(idp, name_id: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="_l{uuid.uuid4().hex}" Version="2.0" IssueInstant="{now}" '
        'Destination="http://testserver/accounts/saml/univ/sls/">'
        f"<saml:Issuer>{idp.entity_id}</saml:Issuer>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
        f"{name_id}</saml:NameID></samlp:LogoutRequest>"
    )
    deflated = zlib.compress(xml.encode())[2:-4]  # raw DEFLATE, as the binding sends it
    return base64.b64encode(deflated).decode()


def test_an_idp_initiated_logout_ends_the_session_and_answers_the_idp(client, univ_saml) -> None:
    saml_post(client, _response(univ_saml, attributes=ADA, name_id="ada-nameid"))
    assert signed_in_email(client) == "ada@univ.example"
    response = client.get(
        "/accounts/saml/univ/sls/", {"SAMLRequest": _logout_request(univ_saml, "ada-nameid")}
    )
    assert signed_in_email(client) is None
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{univ_saml.url}/slo"
    assert "SAMLResponse" in parse_qs(location.query)
