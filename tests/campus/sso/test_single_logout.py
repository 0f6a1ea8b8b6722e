"""SAML single logout where the IdP offers it. IdP-initiated: a LogoutRequest from the IdP
ends the person's session here and is answered with a signed LogoutResponse, but only when
the IdP signed it (HTTP-Redirect or HTTP-POST), for now, once. SP-initiated: logging out
here sends a signed LogoutRequest to the IdP and accepts only its signed answer to it."""

import datetime as dt
import types
from urllib.parse import parse_qs, urlparse

import pytest
from allauth.mfa.totp.internal import auth as totp_auth
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.socialaccount.models import SocialApp
from django.test import Client

from campus.models import SamlMessageUse, User
from tests.campus.sso.conftest import (
    SLS_URL,
    saml_post,
    saml_sp_initiated,
    signed_in_email,
    sso_add,
)
from tests.campus.sso.test_saml import ADA, _response
from tests.support.saml_idp import authn_request, key_pair, sp_signature_valid

pytestmark = pytest.mark.django_db

SLS = "/accounts/saml/univ/sls/"
NAME_ID = "ada-nameid"


@pytest.fixture
def ada(client, univ_saml):
    """Ada, signed in through the university's IdP."""
    saml_post(client, _response(univ_saml, attributes=ADA, name_id=NAME_ID))
    assert signed_in_email(client) == "ada@univ.example"
    return univ_saml


def _sp_certificate() -> str:
    return SocialApp.objects.get(provider="saml").settings["advanced"]["x509cert"]


def _idp_logout(client, idp, *, binding: str = "redirect", **options):
    """Send the IdP's LogoutRequest through the browser, as the IdP's page would."""
    sign_options = {k: options.pop(k) for k in ("sign", "keys", "sig_alg") if k in options}
    tamper = options.pop("tamper", None)
    options.setdefault("name_id", NAME_ID)
    options.setdefault("destination", SLS_URL)
    xml = idp.logout_request(**options)
    if binding == "post":
        sign_options.pop("sig_alg", None)
        message = idp.post_message(xml, **sign_options)
        if tamper:
            message = idp.post_message(tamper(idp.sign(xml)), sign=False)
        return client.post(SLS, {"SAMLRequest": message, "RelayState": "r1"})
    query = idp.redirect_query("SAMLRequest", xml, relay_state="r1", **sign_options)
    if tamper:
        # The signature of one message, sent with another.
        other = idp.redirect_query("SAMLRequest", tamper(xml), relay_state="r1", sign=False)
        query = other + "&" + query.split("&", 2)[2]
    return client.get(f"{SLS}?{query}")


def _answered(response, idp) -> dict[str, str]:
    assert response.status_code == 302, response.content[:600]
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{idp.url}/slo"
    assert sp_signature_valid(location.query, _sp_certificate())
    return {k: v[0] for k, v in parse_qs(location.query).items()}


# --- IdP-initiated ---


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_signed_idp_logout_request_ends_the_session_and_is_answered_signed(
    client, ada, binding
) -> None:
    response = _idp_logout(client, ada, binding=binding, request_id="_idp-logout-1")
    assert signed_in_email(client) is None
    answer = _answered(response, ada)
    assert answer["RelayState"] == "r1"
    assert authn_request(answer["SAMLResponse"]).get("InResponseTo") == "_idp-logout-1"


def _swap_name_id(xml: str) -> str:
    return xml.replace(NAME_ID, "grace-nameid")


def _hour_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


_REQUEST_ATTACKS = {
    "unsigned": {"sign": False},
    "signed-by-another-key": {"keys": "attacker"},
    "changed-after-signing": {"tamper": _swap_name_id},
    "expired-issue-instant": {"now": "hour-ago"},
    "expired-not-on-or-after": {"not_on_or_after": "hour-ago"},
    "another-issuer": {"issuer": "https://evil.example/idp"},
    "another-destination": {"destination": "https://other-sp.example/sls/"},
}


@pytest.mark.parametrize(
    ("binding", "attack"),
    [
        *(pytest.param(b, a, id=f"{b}-{name}") for name, a in _REQUEST_ATTACKS.items()
          for b in ("redirect", "post")),
        # SigAlg travels in the query string of the HTTP-Redirect binding only.
        pytest.param(
            "redirect", {"sig_alg": "http://www.w3.org/2000/09/xmldsig#rsa-sha1"},
            id="redirect-sha1",
        ),
    ],
)  # fmt: skip
def test_a_forged_or_stale_idp_logout_request_is_refused(client, ada, binding, attack) -> None:
    options = dict(attack)
    if options.get("keys") == "attacker":
        options["keys"] = key_pair("attacker")
    for when in ("now", "not_on_or_after"):
        if options.get(when) == "hour-ago":
            options[when] = _hour_ago()
    response = _idp_logout(client, ada, binding=binding, **options)
    assert response.status_code == 400
    assert "This sign-out request was refused" in response.content.decode()
    assert signed_in_email(client) == "ada@univ.example"
    assert not SamlMessageUse.objects.filter(key__contains="logout_request").exists()


def test_a_replayed_idp_logout_request_is_refused(client, univ_saml) -> None:
    # given a LogoutRequest that ended Ada's session once
    xml = univ_saml.logout_request(destination=SLS_URL, name_id=NAME_ID)
    query = univ_saml.redirect_query("SAMLRequest", xml)
    saml_post(client, _response(univ_saml, attributes=ADA, name_id=NAME_ID))
    assert client.get(f"{SLS}?{query}").status_code == 302
    assert signed_in_email(client) is None
    # when Ada signs in again and the same request comes back
    saml_post(client, _response(univ_saml, attributes=ADA, name_id=NAME_ID))
    response = client.get(f"{SLS}?{query}")
    # then it is refused and she stays signed in
    assert response.status_code == 400
    assert signed_in_email(client) == "ada@univ.example"


def test_a_post_logout_request_wrapping_a_signed_one_is_refused(client, ada) -> None:
    # given a validly signed request for someone else, wrapped inside a request for Ada
    signed = ada.sign(ada.logout_request(destination=SLS_URL, name_id="someone"))
    inner = signed.removeprefix('<?xml version="1.0"?>').strip()
    outer = ada.logout_request(destination=SLS_URL, name_id=NAME_ID).replace(
        "</samlp:LogoutRequest>", f"<samlp:Extensions>{inner}</samlp:Extensions>"
        "</samlp:LogoutRequest>", 1,
    )  # fmt: skip
    response = client.post(SLS, {"SAMLRequest": ada.post_message(outer, sign=False)})
    assert response.status_code == 400
    assert signed_in_email(client) == "ada@univ.example"


def test_a_signed_logout_request_for_another_person_leaves_this_session(client, ada) -> None:
    response = _idp_logout(client, ada, name_id="grace-nameid")
    assert signed_in_email(client) == "ada@univ.example"
    _answered(response, ada)  # the IdP still gets its answer: no session of Grace's here


# --- SP-initiated ---


def _logout_here(client, idp) -> dict[str, str]:
    """Log out on our site; returns the LogoutRequest's query as the IdP receives it."""
    response = client.post("/accounts/logout/")
    assert response.status_code == 302, response
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{idp.url}/slo"
    return {"query": location.query}


def test_logging_out_here_sends_a_signed_logout_request_to_the_idp(client, univ_saml) -> None:
    # given Ada signed in through an AuthnRequest of ours
    request_id = saml_sp_initiated(client)
    saml_post(client, _response(univ_saml, in_response_to=request_id, name_id=NAME_ID))
    session_index = univ_saml.session_indexes[-1]
    # when she logs out here
    sent = _logout_here(client, univ_saml)
    # then her session here is over, and the IdP gets a LogoutRequest signed by our key
    assert signed_in_email(client) is None
    assert sp_signature_valid(sent["query"], _sp_certificate())
    request = authn_request(parse_qs(sent["query"])["SAMLRequest"][0])
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
    assert request.findtext("saml:NameID", namespaces=ns) == NAME_ID
    assert request.findtext("{*}SessionIndex") == session_index
    # and its signed answer lands on the logged-out page
    back = client.get(univ_saml.answer_logout(sent["query"]))
    assert back.status_code == 302 and back["Location"] == "/accounts/logged-out/"
    page = client.get(back["Location"])
    assert "Université Exemple" in page.content.decode()


def test_single_logout_survives_the_second_factor_step(client, univ_saml, monkeypatch) -> None:
    # given Ada has an authenticator app (a frozen clock: code and check in one window)
    monkeypatch.setattr(totp_auth, "time", types.SimpleNamespace(time=lambda: 1_800_000_015))
    saml_post(client, _response(univ_saml, attributes=ADA, name_id=NAME_ID))
    client.logout()
    secret = generate_totp_secret()
    TOTP.activate(User.objects.get(email="ada@univ.example"), secret)
    # when she signs in through the IdP and gives her code
    response = saml_post(client, _response(univ_saml, attributes=ADA, name_id=NAME_ID))
    assert response["Location"] == "/accounts/2fa/authenticate/"
    counter = next(iter(yield_hotp_counters_from_time()))
    client.post(response["Location"], {"code": format_hotp_value(hotp_value(secret, counter))})
    assert signed_in_email(client) == "ada@univ.example"
    # then logging out still reaches the IdP, for this sign-in
    sent = _logout_here(client, univ_saml)
    request = authn_request(parse_qs(sent["query"])["SAMLRequest"][0])
    assert request.findtext("{*}SessionIndex") == univ_saml.session_indexes[-1]


def test_the_sp_metadata_publishes_the_key_that_signs_our_logout_messages(
    client, univ_saml
) -> None:
    body = client.get("/accounts/saml/univ/metadata/").content.decode()
    assert _sp_certificate() in body
    assert "SingleLogoutService" in body


def test_replacing_the_idp_metadata_keeps_our_signing_key(univ_saml, tmp_path) -> None:
    # The IdP registered our certificate: a new key would break its checks.
    before = _sp_certificate()
    metadata = tmp_path / "again.xml"
    metadata.write_text(univ_saml.metadata())
    sso_add("--org", "univ", "--saml-metadata-file", str(metadata))
    assert _sp_certificate() == before


def _answer(idp, query: str, **options) -> str:
    """The IdP's LogoutResponse to the request in `query`, as a path on our site."""
    request_id = authn_request(parse_qs(query)["SAMLRequest"][0]).get("ID")
    sign = {k: options.pop(k) for k in ("sign", "keys") if k in options}
    options.setdefault("in_response_to", request_id)
    xml = idp.logout_response(destination=SLS_URL, **options)
    return f"{SLS}?" + idp.redirect_query("SAMLResponse", xml, **sign)


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param({"sign": False}, id="unsigned"),
        pytest.param({"keys": "attacker"}, id="signed-by-another-key"),
        pytest.param({"in_response_to": "_another-request"}, id="answers-another-request"),
        pytest.param({"in_response_to": None}, id="answers-no-request"),
        pytest.param({"now": "hour-ago"}, id="expired"),
        pytest.param({"status": "urn:oasis:names:tc:SAML:2.0:status:Responder"}, id="failed"),
    ],
)
def test_a_logout_response_that_does_not_answer_ours_is_refused(client, ada, attack) -> None:
    sent = _logout_here(client, ada)
    options = dict(attack)
    if options.get("keys") == "attacker":
        options["keys"] = key_pair("attacker")
    if options.get("now") == "hour-ago":
        options["now"] = _hour_ago()
    response = client.get(_answer(ada, sent["query"], **options))
    assert response.status_code == 400
    assert "did not confirm" in response.content.decode()


@pytest.mark.parametrize(
    ("sign", "status"), [(True, 302), (False, 400)], ids=["signed", "unsigned"]
)
def test_a_posted_logout_response_needs_its_xml_signature(client, ada, sign, status) -> None:
    sent = _logout_here(client, ada)
    request_id = authn_request(parse_qs(sent["query"])["SAMLRequest"][0]).get("ID")
    xml = ada.logout_response(destination=SLS_URL, in_response_to=request_id)
    response = client.post(SLS, {"SAMLResponse": ada.post_message(xml, sign=sign)})
    assert response.status_code == status


def test_a_logout_response_is_accepted_once(client, ada) -> None:
    sent = _logout_here(client, ada)
    answer = _answer(ada, sent["query"])
    assert client.get(answer).status_code == 302
    assert client.get(answer).status_code == 400


def test_a_logout_response_reaching_another_browser_is_refused(client, ada) -> None:
    sent = _logout_here(client, ada)
    response = Client(HTTP_HOST="testserver").get(_answer(ada, sent["query"]))
    assert response.status_code == 400


@pytest.fixture
def idp_without_slo(univ, saml_idp, tmp_path):
    metadata = tmp_path / "idp.xml"
    metadata.write_text(
        "\n".join(line for line in saml_idp.metadata().splitlines() if "SingleLogout" not in line)
    )
    sso_add("--org", "univ", "--saml-metadata-file", str(metadata), "--domain", "univ.example")
    return saml_idp


def test_an_idp_without_single_logout_gets_a_local_logout(client, idp_without_slo) -> None:
    saml_post(client, _response(idp_without_slo, attributes=ADA, name_id=NAME_ID))
    response = client.post("/accounts/logout/")
    assert signed_in_email(client) is None
    assert response.status_code == 302
    assert not response["Location"].startswith(idp_without_slo.url)


def test_a_logout_request_never_sends_the_browser_to_its_relay_state(
    client, idp_without_slo
) -> None:
    # given an IdP with no logout service to answer at, and a posted (signed) LogoutRequest
    # whose RelayState, outside the signature, was changed on the way
    saml_post(client, _response(idp_without_slo, attributes=ADA, name_id=NAME_ID))
    xml = idp_without_slo.logout_request(destination=SLS_URL, name_id=NAME_ID)
    message = idp_without_slo.post_message(xml)
    response = client.post(SLS, {"SAMLRequest": message, "RelayState": "https://evil.example/"})
    # then the session ends and the browser stays here
    assert signed_in_email(client) is None
    assert response["Location"] == "/accounts/logged-out/"
