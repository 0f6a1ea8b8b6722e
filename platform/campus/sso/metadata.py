"""Reading what an identity provider publishes about itself: SAML IdP metadata (a URL or an
uploaded file) and OpenID Connect discovery documents. Errors say what to fix."""

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

_NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


class MetadataError(Exception):
    """The provider's metadata cannot be used; the message says why, for an admin."""


@dataclass(frozen=True)
class SamlIdp:
    entity_id: str
    sso_url: str
    slo_url: str
    signing_certificates: tuple[str, ...]


def saml_metadata_fetch(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise MetadataError(f"The metadata URL must start with https:// ({url})")
    try:
        xml = OneLogin_Saml2_IdPMetadataParser.get_metadata(
            url, timeout=settings.SSO_METADATA_TIMEOUT_S
        )
    except Exception as error:  # urllib, SSL and parser errors alike
        raise MetadataError(f"The metadata could not be fetched from {url}: {error}") from error
    return xml.decode() if isinstance(xml, bytes) else str(xml)


def saml_metadata_parse(xml: str | bytes, *, entity_id: str | None = None) -> SamlIdp:
    """The IdP described by `xml` (the first one, or `entity_id` in an aggregate)."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=entity_id)
    except Exception as error:  # lxml and the parser raise many kinds
        raise MetadataError(f"This is not SAML metadata: {error}") from error
    idp: dict[str, Any] = parsed.get("idp") or {}
    entity = idp.get("entityId")
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    if not entity or not sso_url:
        raise MetadataError(
            "The metadata describes no identity provider with an HTTP-Redirect "
            "single sign-on service."
        )
    certificates = _signing_certificates(xml, entity)
    if not certificates:
        raise MetadataError("The metadata has no signing certificate: assertions must be signed.")
    return SamlIdp(
        entity_id=entity,
        sso_url=sso_url,
        slo_url=(idp.get("singleLogoutService") or {}).get("url") or "",
        signing_certificates=tuple(dict.fromkeys(certificates)),
    )


def _signing_certificates(xml: str | bytes, entity_id: str) -> list[str]:
    """The IdP's signing certificates: KeyDescriptors marked for signing or for any use
    (the parser would also hand out an encryption-only key as the signing one)."""
    root = OneLogin_Saml2_XML.to_etree(xml)
    certificates = []
    for descriptor in root.iter(f"{{{_NS['md']}}}EntityDescriptor"):
        if descriptor.get("entityID") != entity_id:
            continue
        for key in descriptor.xpath("md:IDPSSODescriptor/md:KeyDescriptor", namespaces=_NS):
            if key.get("use", "signing") != "signing":
                continue
            for cert in key.xpath(".//ds:X509Certificate", namespaces=_NS):
                certificates.append("".join((cert.text or "").split()))
    return [c for c in dict.fromkeys(certificates) if c]


REQUIRED_DISCOVERY = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def oidc_discovery_url(url: str) -> str:
    url = url.strip()
    if "/.well-known/" not in url:
        url = url.rstrip("/") + "/.well-known/openid-configuration"
    return url


def oidc_discovery_fetch(url: str) -> dict[str, Any]:
    """The provider's discovery document, checked for what sign-in needs."""
    url = oidc_discovery_url(url)
    try:
        response = requests.get(url, timeout=settings.SSO_METADATA_TIMEOUT_S)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise MetadataError(
            f"The discovery document could not be read at {url}: {error}"
        ) from error
    if not isinstance(document, dict):
        raise MetadataError(f"The discovery document at {url} is not a JSON object")
    missing = [key for key in REQUIRED_DISCOVERY if not document.get(key)]
    if missing:
        raise MetadataError(f"The discovery document lacks: {', '.join(missing)}")
    methods = document.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise MetadataError("The provider does not support PKCE with S256")
    return document
