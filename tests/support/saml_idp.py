"""A SAML 2.0 identity provider for tests: its own key and certificate, metadata, and
Responses whose Assertions it signs for real (xmlsec, through python3-saml). It also runs
as an HTTP server on 127.0.0.1 (metadata, HTTP-Redirect SSO, IdP-initiated start) for the
command and browser tests. Knobs make it misbehave like an attacker's IdP would."""

import base64
import datetime as dt
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlparse
from xml.sax.saxutils import escape as xml_escape

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

OIDS = {
    "mail": "urn:oid:0.9.2342.19200300.100.1.3",
    "eduPersonPrincipalName": "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
    "displayName": "urn:oid:2.16.840.1.113730.3.1.241",
    "givenName": "urn:oid:2.5.4.42",
    "sn": "urn:oid:2.5.4.4",
    "eduPersonScopedAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
    "eduPersonAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
}


@dataclass(frozen=True)
class KeyPair:
    key_pem: str
    cert_pem: str

    @property
    def cert_body(self) -> str:
        return "".join(line for line in self.cert_pem.splitlines() if "-----" not in line)


def key_pair(common_name: str = "test-idp") -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return KeyPair(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode())


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SamlIdp:
    entity_id: str = "https://idp.univ.example/idp/shibboleth"
    keys: KeyPair = field(default_factory=key_pair)
    url: str = "http://127.0.0.1:9"  # replaced when served
    # Who the next SSO request signs in: attribute name (friendly) → values, and NameID.
    user: dict[str, Any] = field(default_factory=dict)
    acs_url: str = ""  # where IdP-initiated Responses go
    audience: str = ""
    sls_url: str = ""  # the SP's single logout service (LogoutResponses go there)
    session_indexes: list[str] = field(default_factory=list)  # issued, newest last
    logout_requests: list[str] = field(default_factory=list)  # query strings received

    def metadata(self) -> str:
        return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{self.entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{self.keys.cert_body}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{self.url}/slo"/>
    <md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{self.url}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    def assertion(
        self,
        *,
        acs_url: str,
        audience: str,
        attributes: dict[str, list[str] | str],
        name_id: str,
        in_response_to: str | None = None,
        now: dt.datetime | None = None,
        lifetime: dt.timedelta = dt.timedelta(minutes=5),
        issuer: str | None = None,
        assertion_id: str | None = None,
    ) -> str:
        now = now or dt.datetime.now(dt.UTC)
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        values = []
        for friendly, value in attributes.items():
            items = [value] if isinstance(value, str) else value
            rendered = "".join(
                f'<saml:AttributeValue xsi:type="xs:string">{xml_escape(v)}</saml:AttributeValue>'
                for v in items
            )
            values.append(
                f'<saml:Attribute Name="{OIDS.get(friendly, friendly)}" FriendlyName="{friendly}"'
                f' NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">{rendered}'
                "</saml:Attribute>"
            )
        expires = _instant(now + lifetime)
        session_index = "_s" + uuid.uuid4().hex
        self.session_indexes.append(session_index)
        return (
            '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'ID="{assertion_id or "_a" + uuid.uuid4().hex}" Version="2.0" '
            f'IssueInstant="{_instant(now)}">'
            f"<saml:Issuer>{issuer or self.entity_id}</saml:Issuer>"
            "<saml:Subject>"
            '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
            f"{xml_escape(name_id)}</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{expires}" Recipient="{acs_url}"{irt}/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_instant(now - dt.timedelta(minutes=1))}" '
            f'NotOnOrAfter="{expires}"><saml:AudienceRestriction>'
            f"<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
            "</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_instant(now)}" '
            f'SessionIndex="{session_index}"><saml:AuthnContext><saml:AuthnContextClassRef>'
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{''.join(values)}</saml:AttributeStatement>"
            "</saml:Assertion>"
        )

    def sign(self, xml: str, keys: KeyPair | None = None) -> str:
        keys = keys or self.keys
        signed = OneLogin_Saml2_Utils.add_sign(
            xml, keys.key_pem, keys.cert_pem, sign_algorithm=C.RSA_SHA256,
            digest_algorithm=C.SHA256,
        )  # fmt: skip
        return signed.decode() if isinstance(signed, bytes) else signed

    def response(
        self,
        *,
        acs_url: str,
        audience: str,
        attributes: dict[str, list[str] | str] | None = None,
        name_id: str = "",
        in_response_to: str | None = None,
        sign: bool = True,
        signing_keys: KeyPair | None = None,
        tamper: Any = None,
        extra_assertion: str = "",
        **assertion_options: Any,
    ) -> str:
        """A base64 SAMLResponse. `tamper(xml) -> xml` edits the signed assertion."""
        attributes = self.user.get("attributes", {}) if attributes is None else attributes
        name_id = name_id or self.user.get("name_id", "nameid-" + uuid.uuid4().hex)
        assertion = self.assertion(
            acs_url=acs_url, audience=audience, attributes=attributes, name_id=name_id,
            in_response_to=in_response_to, **assertion_options,
        )  # fmt: skip
        if sign:
            assertion = self.sign(assertion, signing_keys)
        assertion = assertion.removeprefix('<?xml version="1.0"?>').strip()
        if tamper is not None:
            assertion = tamper(assertion)
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        now = _instant(dt.datetime.now(dt.UTC))
        xml = (
            '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="_r{uuid.uuid4().hex}" Version="2.0" IssueInstant="{now}" '
            f'Destination="{acs_url}"{irt}><saml:Issuer>{self.entity_id}</saml:Issuer>'
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            f"</samlp:Status>{assertion}{extra_assertion}</samlp:Response>"
        )
        return base64.b64encode(xml.encode()).decode()

    # --- Single logout ---

    def logout_request(
        self,
        *,
        destination: str,
        name_id: str,
        session_index: str | None = None,
        now: dt.datetime | None = None,
        request_id: str | None = None,
        issuer: str | None = None,
        not_on_or_after: dt.datetime | None = None,
    ) -> str:
        """A LogoutRequest (XML), as the IdP sends when a person logs out there."""
        now = now or dt.datetime.now(dt.UTC)
        noa = f' NotOnOrAfter="{_instant(not_on_or_after)}"' if not_on_or_after else ""
        index = f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex>" if session_index else ""
        return (
            '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="{request_id or "_l" + uuid.uuid4().hex}" Version="2.0" '
            f'IssueInstant="{_instant(now)}" Destination="{destination}"{noa}>'
            f"<saml:Issuer>{issuer or self.entity_id}</saml:Issuer>"
            '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
            f"{xml_escape(name_id)}</saml:NameID>{index}</samlp:LogoutRequest>"
        )

    def logout_response(
        self,
        *,
        destination: str,
        in_response_to: str | None,
        status: str = C.STATUS_SUCCESS,
        now: dt.datetime | None = None,
        issuer: str | None = None,
    ) -> str:
        """A LogoutResponse (XML) answering the SP's LogoutRequest `in_response_to`."""
        now = now or dt.datetime.now(dt.UTC)
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        return (
            '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="_lr{uuid.uuid4().hex}" Version="2.0" IssueInstant="{_instant(now)}" '
            f'Destination="{destination}"{irt}>'
            f"<saml:Issuer>{issuer or self.entity_id}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
            "</samlp:LogoutResponse>"
        )

    def redirect_query(
        self,
        kind: str,
        xml: str,
        *,
        relay_state: str | None = None,
        sign: bool = True,
        keys: KeyPair | None = None,
        sig_alg: str = C.RSA_SHA256,
    ) -> str:
        """The query string of the HTTP-Redirect binding: `kind` (SAMLRequest or
        SAMLResponse) deflated, and the signature over the query as sent."""
        message = base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()
        parts = [f"{kind}={quote_plus(message)}"]
        if relay_state is not None:
            parts.append(f"RelayState={quote_plus(relay_state)}")
        if not sign:
            return "&".join(parts)
        parts.append(f"SigAlg={quote_plus(sig_alg)}")
        transform = {
            C.RSA_SHA256: xmlsec.Transform.RSA_SHA256,
            C.RSA_SHA1: xmlsec.Transform.RSA_SHA1,
        }
        signature = OneLogin_Saml2_Utils.sign_binary(
            "&".join(parts), (keys or self.keys).key_pem, transform[sig_alg]
        )
        return "&".join(parts) + "&Signature=" + quote_plus(base64.b64encode(signature).decode())

    def post_message(self, xml: str, *, sign: bool = True, keys: KeyPair | None = None) -> str:
        """The base64 form field of the HTTP-POST binding (an XML signature inside)."""
        if sign:
            xml = self.sign(xml, keys)
        return base64.b64encode(xml.encode()).decode()

    def answer_logout(self, query: str) -> str:
        """The redirect (to the SP's SLS) that answers the SP's LogoutRequest in `query`."""
        self.logout_requests.append(query)
        params = {k: v[0] for k, v in parse_qs(query).items()}
        request = authn_request(params["SAMLRequest"])
        xml = self.logout_response(destination=self.sls_url, in_response_to=request.get("ID"))
        return f"{self.sls_url}?" + self.redirect_query(
            "SAMLResponse", xml, relay_state=params.get("RelayState")
        )


def sp_signature_valid(query: str, cert: str) -> bool:
    """Whether the SP signed this HTTP-Redirect query with the key of `cert`."""
    params = {k: v[0] for k, v in parse_qs(query).items()}
    signed = "&".join(
        part for name in ("SAMLRequest=", "SAMLResponse=", "RelayState=", "SigAlg=")
        for part in query.split("&") if part.startswith(name)
    )  # fmt: skip
    return bool(
        OneLogin_Saml2_Utils.validate_binary_sign(
            signed,
            base64.b64decode(params["Signature"]),
            OneLogin_Saml2_Utils.format_cert(cert),
            params["SigAlg"],
        )
    )


def authn_request(saml_request: str) -> etree._Element:
    """The request (AuthnRequest, LogoutRequest) an SP sent over HTTP-Redirect."""
    return etree.fromstring(zlib.decompress(base64.b64decode(saml_request), -15))


def _autopost(action: str, fields: dict[str, str]) -> bytes:
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    return (
        "<!DOCTYPE html><html><head><title>Test IdP</title></head><body>"
        f'<form method="post" action="{escape(action)}">{inputs}'
        '<button type="submit">Continue to the platform</button></form></body></html>'
    ).encode()


def _handler(idp: SamlIdp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/metadata":
                self._send(200, idp.metadata().encode(), "application/samlmetadata+xml")
            elif url.path == "/sso":
                request = authn_request(params["SAMLRequest"])
                acs = request.get("AssertionConsumerServiceURL") or idp.acs_url
                response = idp.response(
                    acs_url=acs, audience=idp.audience, in_response_to=request.get("ID")
                )
                fields = {"SAMLResponse": response}
                if "RelayState" in params:
                    fields["RelayState"] = params["RelayState"]
                self._send(200, _autopost(acs, fields), "text/html; charset=utf-8")
            elif url.path == "/slo" and "SAMLRequest" in params:
                self.send_response(302)
                self.send_header("Location", idp.answer_logout(url.query))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/start":  # IdP-initiated: no AuthnRequest, no InResponseTo
                response = idp.response(acs_url=idp.acs_url, audience=idp.audience)
                self._send(200, _autopost(idp.acs_url, {"SAMLResponse": response}), "text/html")
            else:
                self._send(404, b"not found", "text/plain")

    return Handler


@contextmanager
def saml_idp_server(idp: SamlIdp) -> Iterator[SamlIdp]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(idp))
    idp.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
