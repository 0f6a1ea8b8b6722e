"""SAML 2.0 single logout messages, on python3-saml, with what allauth 65.21.1 leaves open
closed: IdP LogoutRequests must be signed (the query-string signature of the HTTP-Redirect
binding, or the XML signature of HTTP-POST), fresh and used once; a LogoutResponse must be
signed, answer the LogoutRequest this browser sent, and be used once.

Not python3-saml's wantMessagesSigned: it would also require signed login Responses, which
many IdPs do not send (they sign the Assertion).
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import xmlsec
from allauth.socialaccount.providers.saml.utils import build_saml_config, prepare_django_request
from django.http import HttpRequest
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from campus.sso import replay

# Front-channel messages travel with the browser at once: older ones are refused, and their
# IDs are kept this long (a NotOnOrAfter further away does not make them live longer).
MESSAGE_LIFETIME = timedelta(minutes=5)
CLOCK_SKEW = timedelta(minutes=2)

_SIGNATURE_METHODS = frozenset({C.RSA_SHA256, C.RSA_SHA384, C.RSA_SHA512})
_DIGEST_METHODS = frozenset({C.SHA256, C.SHA384, C.SHA512})
_NS = {"ds": C.NS_DS, "samlp": C.NS_SAMLP}


class LogoutRefused(Exception):
    """A logout message that is not accepted; the message says why (for the log)."""


@dataclass(frozen=True)
class IdpLogout:
    """An IdP's LogoutRequest that passed every check, and where to send the answer."""

    name_id: str
    session_indexes: tuple[str, ...]
    answer_url: str | None  # None: the IdP has no HTTP-Redirect logout service to answer


def _request_data(request: HttpRequest) -> dict[str, Any]:
    data = prepare_django_request(request)
    # Check the Redirect binding's signature over the query string as sent: IdPs differ in
    # how they percent-encode, and re-encoding the decoded values would not match.
    data["query_string"] = request.META.get("QUERY_STRING", "")
    data["validate_signature_from_qs"] = True
    return data


def _auth(request: HttpRequest, provider: Any) -> OneLogin_Saml2_Auth:
    config = build_saml_config(request, provider.app.settings, provider.app.client_id)
    return OneLogin_Saml2_Auth(_request_data(request), config)


def saml_logout_start(
    *, request: HttpRequest, provider: Any, record: dict[str, Any], return_to: str
) -> tuple[str, str] | None:
    """The IdP's single logout URL carrying a signed LogoutRequest for the sign-in in
    `record`, and that request's ID; None when the IdP publishes no SingleLogoutService or
    we hold no key to sign with (local logout only)."""
    auth = _auth(request, provider)
    if not auth.get_slo_url() or not auth.get_settings().get_sp_key():
        return None
    url = auth.logout(
        return_to=return_to,
        name_id=record.get("name_id"),
        session_index=record.get("session_index"),
        nq=record.get("nq"),
        name_id_format=record.get("name_id_format"),
        spnq=record.get("spnq"),
    )
    return url, auth.get_last_request_id()


def _instant(value: str | None, what: str) -> datetime:
    if not value:
        raise LogoutRefused(f"The {what} has no IssueInstant")
    try:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), tz=UTC)
    except ValueError as error:
        raise LogoutRefused(f"The {what}'s IssueInstant is not a time") from error


def _fresh_until(root: etree._Element, what: str, now: datetime) -> datetime:
    """When the message stops being accepted; refuses it if that is past (or it was issued
    in the future)."""
    issued = _instant(root.get("IssueInstant"), what)
    if issued - now > CLOCK_SKEW:
        raise LogoutRefused(f"The {what} was issued in the future")
    expires_at = issued + MESSAGE_LIFETIME + CLOCK_SKEW
    if expires_at <= now:
        raise LogoutRefused(f"The {what} has expired")
    return expires_at


def _idp_certificates(saml_settings: OneLogin_Saml2_Settings) -> list[str]:
    idp = saml_settings.get_idp_data()
    certificates = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if idp.get("x509cert"):
        certificates.append(idp["x509cert"])
    return certificates


def _check_xml_signature(xml: bytes, certificates: list[str], what: str) -> None:
    """The enveloped signature of an HTTP-POST message: one ds:Signature, a child of the
    root, over the root itself (no wrapping), by one of the IdP's keys."""
    root = OneLogin_Saml2_XML.to_etree(xml)
    signatures = root.xpath("//ds:Signature", namespaces=_NS)
    if len(signatures) != 1 or signatures[0].getparent() is not root:
        raise LogoutRefused(f"The {what} is not signed (one XML signature of the message)")
    signature = signatures[0]
    references = signature.xpath("ds:SignedInfo/ds:Reference", namespaces=_NS)
    root_id = root.get("ID")
    if not root_id or len(references) != 1 or references[0].get("URI") != f"#{root_id}":
        raise LogoutRefused(f"The XML signature does not cover the {what}")
    if len(root.xpath("//*[@ID=$id]", id=root_id)) != 1:
        raise LogoutRefused(f"The {what}'s ID is used twice in it")
    methods = signature.xpath("ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=_NS)
    digests = signature.xpath(".//ds:DigestMethod/@Algorithm", namespaces=_NS)
    if set(methods) - _SIGNATURE_METHODS or not methods or set(digests) - _DIGEST_METHODS:
        raise LogoutRefused("The XML signature uses a deprecated or unknown algorithm")
    xmlsec.tree.add_ids(root, ["ID"])
    for certificate in certificates:
        pem = OneLogin_Saml2_Utils.format_cert(certificate)
        if OneLogin_Saml2_Utils.validate_node_sign(signature, root, pem):
            return
    raise LogoutRefused("The XML signature is not by the IdP's key")


def _encoded(request: HttpRequest, name: str) -> tuple[str, bool]:
    """The base64 message and whether it came by HTTP-POST."""
    if request.method == "POST":
        return request.POST.get(name, ""), True
    return request.GET.get(name, ""), False


def _check_redirect_signature(auth: OneLogin_Saml2_Auth, request: HttpRequest, kind: str) -> None:
    if not request.GET.get("Signature") or not request.GET.get("SigAlg"):
        raise LogoutRefused(f"The {kind} is not signed (HTTP-Redirect Signature, SigAlg)")
    check = (
        auth.validate_request_signature
        if kind == "SAMLRequest"
        else auth.validate_response_signature
    )
    if not check(request.GET.dict()):
        raise LogoutRefused(f"The {kind}'s signature is not by the IdP's key")


def _signed_message(auth: Any, request: HttpRequest, parameter: str, root: str) -> str:
    """The IdP's message in `parameter`, once its signature is checked: the XML signature
    on its `root` element when posted, the query string's when redirected."""
    encoded, posted = _encoded(request, parameter)
    if posted:
        _check_xml_signature(
            base64.b64decode(encoded, validate=True), _idp_certificates(auth.get_settings()), root
        )
    else:
        _check_redirect_signature(auth, request, parameter)
    return encoded


def saml_logout_request_accept(*, request: HttpRequest, provider: Any, now: datetime) -> IdpLogout:
    """Check the IdP's LogoutRequest (signature, destination, issuer, freshness, first
    use) and build the signed LogoutResponse that answers it. Raises LogoutRefused."""
    auth = _auth(request, provider)
    saml_settings = auth.get_settings()
    try:
        encoded = _signed_message(auth, request, "SAMLRequest", "LogoutRequest")
        logout_request = OneLogin_Saml2_Logout_Request(saml_settings, encoded)
        xml = logout_request.get_xml()
        logout_request.is_valid(_request_data(request), raise_exceptions=True)
        root = OneLogin_Saml2_XML.to_etree(xml)
        name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml, saml_settings.get_sp_key())
        session_indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(xml)
    except (binascii.Error, ValueError, etree.LxmlError) as error:
        raise LogoutRefused(f"The LogoutRequest cannot be read: {error}") from error
    except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as error:
        raise LogoutRefused(f"The LogoutRequest is not valid: {error}") from error
    expires_at = _fresh_until(root, "LogoutRequest", now)
    try:
        replay.saml_message_accept(
            issuer=provider.app.provider_id,
            kind="logout_request",
            message_id=root.get("ID"),
            expires_at=expires_at,
            now=now,
        )
    except replay.ReplayedError as error:
        raise LogoutRefused(str(error)) from error
    return IdpLogout(
        name_id=name_id,
        session_indexes=tuple(session_indexes),
        answer_url=_answer_url(auth, request, root.get("ID")),
    )


def _answer_url(auth: OneLogin_Saml2_Auth, request: HttpRequest, in_response_to: str) -> str | None:
    # Without one, python3-saml would send the answer to the RelayState, which the
    # HTTP-POST binding's signature does not cover.
    if not auth.get_slo_response_url():
        return None
    saml_settings = auth.get_settings()
    builder = OneLogin_Saml2_Logout_Response(saml_settings)
    builder.build(in_response_to)
    parameters = {"SAMLResponse": builder.get_response()}
    relay_state = (request.POST if request.method == "POST" else request.GET).get("RelayState")
    if relay_state:
        parameters["RelayState"] = relay_state
    if saml_settings.get_sp_key():
        auth.add_response_signature(
            parameters, saml_settings.get_security_data()["signatureAlgorithm"]
        )
    return auth.redirect_to(auth.get_slo_response_url(), parameters)


def saml_logout_response_accept(
    *, request: HttpRequest, provider: Any, request_id: str | None, now: datetime
) -> None:
    """Check the IdP's LogoutResponse: signed by it, answering `request_id` (the
    LogoutRequest this browser was sent with), fresh, successful, first use."""
    if not request_id:
        raise LogoutRefused("No logout is pending in this browser")
    auth = _auth(request, provider)
    saml_settings = auth.get_settings()
    try:
        encoded = _signed_message(auth, request, "SAMLResponse", "LogoutResponse")
        response = OneLogin_Saml2_Logout_Response(saml_settings, encoded)
        response.is_valid(_request_data(request), request_id=request_id, raise_exceptions=True)
        in_response_to = response.get_in_response_to()
        status = response.get_status()
    except (binascii.Error, ValueError, etree.LxmlError) as error:
        raise LogoutRefused(f"The LogoutResponse cannot be read: {error}") from error
    except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as error:
        raise LogoutRefused(f"The LogoutResponse is not valid: {error}") from error
    if in_response_to != request_id:
        raise LogoutRefused("The LogoutResponse does not answer our LogoutRequest")
    if status != C.STATUS_SUCCESS:
        raise LogoutRefused(f"The IdP did not end its session ({status})")
    expires_at = _fresh_until(response.document, "LogoutResponse", now)
    try:
        replay.saml_message_accept(
            issuer=provider.app.provider_id,
            kind="logout_response",
            message_id=response.id,
            expires_at=expires_at,
            now=now,
        )
    except replay.ReplayedError as error:
        raise LogoutRefused(str(error)) from error
