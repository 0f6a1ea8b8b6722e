"""University sign-in in a real browser (Debian's Chromium): the login page's search, an
OpenID Connect provider and a SAML IdP on 127.0.0.1 (SP- and IdP-initiated), an SSO-only
university's address making the password form give way, and single logout through both."""

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from campus.models import Membership, Organization, Role, User
from tests.support.browser import shot
from tests.support.oidc_provider import OidcProvider, oidc_provider
from tests.support.saml_idp import SamlIdp, saml_idp_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SP_ENTITY_ID = "http://127.0.0.1:8000/accounts/saml/univ/metadata/"


def _sso_add(*args: str) -> None:
    call_command("sso_add", *args, stdout=StringIO())


@pytest.fixture
def univ(db) -> Organization:
    return Organization.objects.create(name="Université Exemple", slug="univ", country="FR")


@pytest.fixture
def oidc(univ) -> Iterator[OidcProvider]:
    with oidc_provider() as provider:
        _sso_add(
            "--org", "univ", "--oidc-discovery-url", provider.url, "--client-id",
            provider.client_id, "--client-secret", provider.client_secret,
            "--domain", "univ.example", "--role", "faculty=instructor",
        )  # fmt: skip
        yield provider


@pytest.fixture
def saml(univ, live_server, tmp_path) -> Iterator[SamlIdp]:
    idp = SamlIdp(
        acs_url=f"{live_server.url}/accounts/saml/univ/acs/",
        audience=SP_ENTITY_ID,
        sls_url=f"{live_server.url}/accounts/saml/univ/sls/",
    )
    with saml_idp_server(idp) as served:
        _sso_add(
            "--org", "univ", "--saml-metadata-url", f"{served.url}/metadata",
            "--domain", "univ.example",
        )  # fmt: skip
        yield served


def _find_university(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("University name, or your address at it").fill("exemple")
    page.get_by_role("button", name="Sign in with Université Exemple").click()


def test_oidc_sign_in_from_the_login_page_search(page, live_server, oidc) -> None:
    oidc.user = {
        "sub": "ada-1",
        "email": "ada@univ.example",
        "name": "Ada Lovelace",
        "eduperson_scoped_affiliation": ["faculty@univ.example"],
    }
    _find_university(page, live_server)
    page.wait_for_url(f"{live_server.url}/courses/")
    expect(page.locator("header")).to_contain_text("Log out")
    user = User.objects.get(email="ada@univ.example")
    assert Membership.objects.get(user=user).role == Role.INSTRUCTOR
    shot(page, "sso_oidc_signed_in")


def test_saml_sp_initiated_sign_in_from_the_login_page_search(page, live_server, saml) -> None:
    saml.user = {
        "name_id": "grace-1",
        "attributes": {"mail": "grace@univ.example", "displayName": "Grace Hopper"},
    }
    _find_university(page, live_server)
    page.get_by_role("button", name="Continue to the platform").click()  # the IdP's page
    page.wait_for_url(f"{live_server.url}/courses/")
    expect(page.locator("header")).to_contain_text("Log out")
    assert User.objects.get(email="grace@univ.example").name == "Grace Hopper"


def test_saml_idp_initiated_sign_in(page, live_server, saml) -> None:
    saml.user = {"name_id": "alan-1", "attributes": {"mail": "alan@univ.example"}}
    page.goto(f"{saml.url}/start")
    page.get_by_role("button", name="Continue to the platform").click()
    page.wait_for_url(f"{live_server.url}/courses/")
    assert User.objects.filter(email="alan@univ.example").exists()


def test_an_sso_only_address_hides_the_password_form(page, live_server, oidc, univ) -> None:
    univ.identity_providers.update(sso_only=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email", exact=False).first.fill("ada@univ.example")
    notice = page.locator(".sso-only-notice")
    expect(notice).to_contain_text("Université Exemple signs its people in itself")
    expect(page.get_by_label("Password")).to_be_hidden()
    shot(page, "sso_only_login")
    # another address brings the password back
    page.get_by_label("Email", exact=False).first.fill("guest@elsewhere.example")
    expect(page.get_by_label("Password")).to_be_visible()
    expect(notice).to_be_hidden()


def _log_out(page) -> None:
    page.locator("header").get_by_role("button", name="Log out").click()


def test_saml_single_logout_ends_the_session_here_and_at_the_idp(page, live_server, saml) -> None:
    # given Grace signed in through the university's IdP
    saml.user = {"name_id": "grace-1", "attributes": {"mail": "grace@univ.example"}}
    _find_university(page, live_server)
    page.get_by_role("button", name="Continue to the platform").click()
    page.wait_for_url(f"{live_server.url}/courses/")
    # when she logs out here
    _log_out(page)
    # then the IdP got our signed LogoutRequest, answered it, and she lands signed out
    page.wait_for_url(f"{live_server.url}/accounts/logged-out/")
    expect(page.locator("main")).to_contain_text(
        "You are signed out of this platform and of Université Exemple"
    )
    assert len(saml.logout_requests) == 1
    shot(page, "sso_saml_logged_out")
    page.goto(f"{live_server.url}/courses/")
    expect(page.locator("header")).not_to_contain_text("Log out")


def test_oidc_logout_goes_through_the_providers_end_session(
    page, live_server, oidc, settings
) -> None:
    # The provider sends the browser back to SITE_URL: this server's address here.
    settings.SITE_URL = live_server.url
    oidc.user = {"sub": "ada-1", "email": "ada@univ.example", "name": "Ada Lovelace"}
    _find_university(page, live_server)
    page.wait_for_url(f"{live_server.url}/courses/")
    _log_out(page)
    page.wait_for_url(f"{live_server.url}/accounts/logged-out/?state=*")
    expect(page.locator("main")).to_contain_text(
        "You are signed out of this platform and of Université Exemple"
    )
    assert oidc.end_session_requests[-1]["id_token_hint"] == oidc.issued_id_tokens[-1]
    page.goto(f"{live_server.url}/courses/")
    expect(page.locator("header")).not_to_contain_text("Log out")
