"""What an identity provider asserts about a person, read from allauth's extra data.

Pure: no ORM. The caller passes the university's own domains; values scoped to any other
domain are dropped, so one university's IdP cannot speak for another's people.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# SAML attribute names (urn:oid form and the friendly name some IdPs send as the Name) and
# OpenID Connect claims (the REFEDS/GÉANT names for eduPerson claims).
SCOPED_AFFILIATION = (
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
    "eduPersonScopedAffiliation",
    "eduperson_scoped_affiliation",
)
AFFILIATION = (
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
    "eduPersonAffiliation",
    "eduperson_affiliation",
)
PRINCIPAL_NAME = (
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
    "eduPersonPrincipalName",
    "eduperson_principal_name",
)

# allauth's SAML provider maps attributes into its common fields with this table; the
# first attribute present wins. The stable id prefers the SAML subject identifiers, then
# eduPersonUniqueId, then eduPersonPrincipalName; allauth falls back to the NameID.
SAML_ATTRIBUTE_MAPPING = {
    "uid": [
        "urn:oasis:names:tc:SAML:attribute:subject-id",
        "urn:oasis:names:tc:SAML:attribute:pairwise-id",
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.13",
        *PRINCIPAL_NAME[:2],
    ],
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "mail",
        "email",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ],
    "name": ["urn:oid:2.16.840.1.113730.3.1.241", "displayName"],
    "first_name": [
        "urn:oid:2.5.4.42",
        "givenName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ],
    "last_name": [
        "urn:oid:2.5.4.4",
        "sn",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ],
}


@dataclass(frozen=True)
class Assertion:
    """The parts of an assertion the platform acts on."""

    email: str  # "" when the IdP asserted none within the university's domains
    foreign_email: str  # an asserted address outside them: never trusted, only reported
    name: str
    affiliations: frozenset[str]


def domain_is_owned(domain: str, owned: Iterable[str]) -> bool:
    """`domain` is one of `owned` or a subdomain of one (student.univ.example)."""
    domain = domain.strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in owned)


def _values(data: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    found: list[str] = []
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            found.extend(value.split() if " " in value else [value])
        elif isinstance(value, list | tuple):
            found.extend(str(v) for v in value if isinstance(v, str | int))
    return found


def claims_of(extra_data: Mapping[str, Any]) -> dict[str, Any]:
    """One flat mapping: SAML attributes as they are; for OpenID Connect, the id_token's
    claims overlaid with the userinfo's (whose `sub` was checked to match)."""
    if "id_token" in extra_data or "userinfo" in extra_data:
        merged: dict[str, Any] = {}
        for part in ("id_token", "userinfo"):
            value = extra_data.get(part)
            if isinstance(value, Mapping):
                merged.update(value)
        return merged
    return dict(extra_data)


def affiliations(claims: Mapping[str, Any], owned: Iterable[str]) -> frozenset[str]:
    """Affiliations (student, staff, faculty, member...) the IdP asserts for its own
    domains. A scoped value for a domain the university does not own is dropped."""
    owned = list(owned)
    found = {v.strip().lower() for v in _values(claims, AFFILIATION) if v.strip()}
    for value in _values(claims, SCOPED_AFFILIATION):
        affiliation, sep, scope = value.strip().lower().partition("@")
        if sep and affiliation and domain_is_owned(scope, owned):
            found.add(affiliation)
    return frozenset(found)


def assertion_of(
    *, extra_data: Mapping[str, Any], common: Mapping[str, Any], owned: Iterable[str]
) -> Assertion:
    """Read `extra_data` (allauth's raw attributes or claims) and `common` (allauth's
    mapped fields: email, name, first_name, last_name) against the owned domains."""
    owned = list(owned)
    email = str(common.get("email") or "").strip().lower()
    name = (
        str(common.get("name") or "").strip()
        or " ".join(
            str(common.get(part) or "").strip() for part in ("first_name", "last_name")
        ).strip()
    )
    owned_email = ""
    foreign = ""
    if email and "@" in email:
        if domain_is_owned(email.rpartition("@")[2], owned):
            owned_email = email
        else:
            foreign = email
    return Assertion(
        email=owned_email,
        foreign_email=foreign,
        name=name[:200],
        affiliations=affiliations(claims_of(extra_data), owned),
    )
