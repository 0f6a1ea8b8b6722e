"""SAML 2.0 sign-in with Responses whose Assertions a test IdP signs for real: SP- and
IdP-initiated sign-in, the attributes, and the attacks (unsigned, re-signed, tampered,
wrong audience, expired, replayed, wrapped, another domain's attributes, email takeover)."""

import datetime as dt
from io import StringIO

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.management import call_command

from campus.models import AuditAction, AuditLog, Membership, Role, SamlMessageUse, User
from tests.campus.sso.conftest import (
    ACS_URL,
    SP_ENTITY_ID,
    saml_post,
    saml_sp_initiated,
    signed_in_email,
    sso_add,
)
from tests.support.factories import UserFactory
from tests.support.saml_idp import key_pair, saml_idp_server

pytestmark = pytest.mark.django_db

ADA = {
    "mail": "ada@univ.example",
    "eduPersonPrincipalName": "ada@univ.example",
    "displayName": "Ada Lovelace",
    "givenName": "Ada",
    "sn": "Lovelace",
    "eduPersonScopedAffiliation": ["faculty@univ.example", "member@univ.example"],
}


def _response(idp, **options):
    options.setdefault("attributes", ADA)
    return idp.response(acs_url=ACS_URL, audience=SP_ENTITY_ID, **options)


def test_sp_initiated_sign_in_creates_the_account_with_its_attributes(
    client, univ, univ_saml
) -> None:
    # given the platform sent an AuthnRequest
    request_id = saml_sp_initiated(client)
    # when the IdP answers it with a signed assertion
    response = saml_post(client, _response(univ_saml, in_response_to=request_id))
    # then the person is in, with their name, and a faculty member is an instructor
    assert response.status_code == 302, response.content[:800]
    assert signed_in_email(client) == "ada@univ.example"
    user = User.objects.get(email="ada@univ.example")
    assert user.name == "Ada Lovelace"
    assert SocialAccount.objects.get(user=user).uid == "ada@univ.example"  # ePPN
    assert Membership.objects.get(user=user, organization=univ).role == Role.INSTRUCTOR
    assert AuditLog.objects.filter(action=AuditAction.SSO_ACCOUNT_CREATED, target_user=user)


def test_idp_initiated_sign_in_works_and_goes_to_a_safe_relay_state(client, univ_saml) -> None:
    response = saml_post(client, _response(univ_saml), relay_state="/courses/")
    assert signed_in_email(client) == "ada@univ.example"
    assert response["Location"] == "/courses/"


def test_idp_initiated_sign_in_ignores_a_relay_state_to_another_site(client, univ_saml) -> None:
    response = saml_post(client, _response(univ_saml), relay_state="https://evil.example/")
    assert signed_in_email(client) == "ada@univ.example"
    assert "evil.example" not in response["Location"]


def test_the_sp_metadata_is_served_with_our_entity_id_and_acs(client, univ_saml) -> None:
    response = client.get("/accounts/saml/univ/metadata/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'entityID="{SP_ENTITY_ID}"' in body
    assert ACS_URL in body
    assert 'WantAssertionsSigned="true"' in body


def test_a_replayed_idp_initiated_response_is_refused(client, univ_saml) -> None:
    # given a Response that signed its person in once
    captured = _response(univ_saml)
    saml_post(client, captured)
    assert signed_in_email(client) == "ada@univ.example"
    client.logout()
    # when it is posted again (a captured form, the browser's back button, a proxy log)
    response = saml_post(client, captured)
    # then nobody is signed in
    assert signed_in_email(client) is None
    assert response.status_code == 401
    assert SamlMessageUse.objects.count() == 2  # the Response's ID and the Assertion's


def test_a_replayed_sp_initiated_response_is_refused(client, univ_saml) -> None:
    request_id = saml_sp_initiated(client)
    captured = _response(univ_saml, in_response_to=request_id)
    saml_post(client, captured)
    client.logout()
    saml_post(client, captured)
    assert signed_in_email(client) is None


def test_the_same_assertion_in_a_new_response_is_refused(client, univ_saml) -> None:
    saml_post(client, _response(univ_saml, assertion_id="_same-assertion"))
    client.logout()
    saml_post(client, _response(univ_saml, assertion_id="_same-assertion"))
    assert signed_in_email(client) is None


def _swap_mail(xml: str) -> str:
    return xml.replace("ada@univ.example", "grace@univ.example")


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param({"sign": False}, id="unsigned"),
        pytest.param({"signing_keys": "attacker"}, id="re-signed-by-another-key"),
        pytest.param({"tamper": _swap_mail}, id="tampered-after-signing"),
        pytest.param({"audience": "https://other-sp.example/metadata"}, id="wrong-audience"),
        pytest.param({"now": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)}, id="expired"),
        pytest.param({"issuer": "https://evil.example/idp"}, id="another-issuer"),
        pytest.param({"wrap": True}, id="unsigned-assertion-wrapped-beside-a-signed-one"),
    ],
)
def test_a_forged_or_stale_response_signs_nobody_in(client, univ_saml, attack) -> None:
    # given Grace has an account the attacker wants
    grace = UserFactory(email="grace@univ.example")
    options = dict(attack)
    if options.pop("signing_keys", None):
        options["signing_keys"] = key_pair("attacker")
    audience = options.pop("audience", SP_ENTITY_ID)
    if options.pop("wrap", False):
        forged = univ_saml.assertion(
            acs_url=ACS_URL, audience=SP_ENTITY_ID, attributes={"mail": "grace@univ.example"},
            name_id="grace",
        )  # fmt: skip
        options["extra_assertion"] = forged
    saml_response = univ_saml.response(
        acs_url=ACS_URL, audience=audience, attributes=ADA, **options
    )
    response = saml_post(client, saml_response)
    assert signed_in_email(client) is None
    assert response.status_code == 401
    assert not SocialAccount.objects.filter(user=grace).exists()
    assert User.objects.count() == 1


def test_attributes_asserted_for_another_universitys_domain_are_refused(client, univ_saml) -> None:
    # given a person of another university with an account
    victim = UserFactory(email="victim@other.example")
    # when this university's IdP asserts their address and another domain's affiliation
    attributes = {
        "mail": "victim@other.example",
        "eduPersonPrincipalName": "mallory@univ.example",
        "eduPersonScopedAffiliation": ["faculty@other.example"],
    }
    response = saml_post(client, _response(univ_saml, attributes=attributes))
    # then nothing links to the victim and nobody is signed in
    assert response.status_code == 403
    assert signed_in_email(client) is None
    assert not SocialAccount.objects.filter(user=victim).exists()


def test_an_affiliation_scoped_to_another_domain_gives_no_role(client, univ, univ_saml) -> None:
    attributes = {**ADA, "eduPersonScopedAffiliation": ["faculty@other.example"]}
    saml_post(client, _response(univ_saml, attributes=attributes))
    user = User.objects.get(email="ada@univ.example")
    assert Membership.objects.get(user=user, organization=univ).role == Role.STUDENT


def test_an_existing_verified_account_is_linked_by_its_university_address(
    client, univ_saml
) -> None:
    person = UserFactory(email="ada@univ.example")
    saml_post(client, _response(univ_saml))
    assert signed_in_email(client) == "ada@univ.example"
    assert SocialAccount.objects.get().user == person


def test_sso_add_reads_idp_metadata_from_a_url(univ, saml_idp) -> None:
    with saml_idp_server(saml_idp) as served:
        out = sso_add(
            "--org", "univ", "--saml-metadata-url", f"{served.url}/metadata",
            "--domain", "univ.example",
        )  # fmt: skip
    assert "SP metadata URL (give it to the IdP): " + SP_ENTITY_ID in out
    listed = StringIO()
    call_command("sso_list", stdout=listed)
    assert f"{served.url}/metadata" in listed.getvalue()


def test_sso_add_refuses_metadata_without_a_signing_certificate(univ, saml_idp, tmp_path) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "md.xml"
    path.write_text(saml_idp.metadata().replace('use="signing"', 'use="encryption"'))
    with pytest.raises(CommandError, match="signing certificate"):
        sso_add("--org", "univ", "--saml-metadata-file", str(path))


def test_a_university_without_domains_makes_new_accounts_but_never_links_by_address(
    client, univ, saml_idp, tmp_path
) -> None:
    # given an IdP registered as the command has it: no --domain
    metadata = tmp_path / "idp.xml"
    metadata.write_text(saml_idp.metadata())
    sso_add("--org", "univ", "--saml-metadata-file", str(metadata))
    # when a new person signs in, they get an account (the address left unverified)
    saml_post(client, _response(saml_idp, attributes={"mail": "new@idp.example"}, name_id="n1"))
    assert signed_in_email(client) == "new@idp.example"
    user = User.objects.get(email="new@idp.example")
    assert Membership.objects.get(user=user, organization=univ).role == Role.STUDENT
    client.logout()
    # and signs in again by the stable id
    saml_post(client, _response(saml_idp, attributes={"mail": "new@idp.example"}, name_id="n1"))
    assert signed_in_email(client) == "new@idp.example"
    client.logout()
    # but an existing account's address is never taken over
    victim = UserFactory(email="victim@other.example")
    response = saml_post(
        client, _response(saml_idp, attributes={"mail": "victim@other.example"}, name_id="x")
    )
    assert response.status_code == 403
    assert signed_in_email(client) is None
    assert not SocialAccount.objects.filter(user=victim).exists()
