"""sso_add / sso_list / sso_remove, as an operator scripts them."""

from io import StringIO

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.management import call_command
from django.core.management.base import CommandError

from campus.models import EmailDomain, IdentityProvider, Organization
from tests.campus.sso.conftest import sso_add
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_sso_add_registers_an_oidc_provider_and_prints_the_redirect_uri(univ, oidc) -> None:
    out = sso_add(
        "--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", "cid",
        "--client-secret", "s3cret", "--domain", "univ.example", "--domain", "@Etu.Univ.Example",
    )  # fmt: skip
    assert "Redirect URI (register it with the provider): " in out
    logged_out = "http://127.0.0.1:8000/accounts/logged-out/"
    assert f"Post-logout redirect URI (register it too): {logged_out}" in out
    assert "http://127.0.0.1:8000/accounts/oidc/oidc-univ/login/callback/" in out
    idp = IdentityProvider.objects.get(organization=univ)
    assert idp.protocol == "oidc"
    assert idp.app.client_id == "cid"
    assert idp.app.settings["server_url"] == oidc.discovery_url
    assert idp.app.settings["oauth_pkce_enabled"] is True
    assert set(EmailDomain.objects.values_list("domain", flat=True)) == {
        "univ.example",
        "etu.univ.example",
    }


def test_sso_add_again_replaces_the_settings_instead_of_adding_a_second(univ, oidc) -> None:
    sso_add("--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", "one")
    sso_add("--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", "two", "--sso-only")
    idp = IdentityProvider.objects.get()
    assert idp.app.client_id == "two"
    assert idp.sso_only
    assert SocialApp.objects.count() == 1


def test_sso_add_creates_the_university_when_it_does_not_exist(db, oidc) -> None:
    out = sso_add(
        "--org", "new-u", "--name", "New University", "--oidc-discovery-url", oidc.url,
        "--client-id", "cid",
    )  # fmt: skip
    assert Organization.objects.get(slug="new-u").name == "New University"
    assert "owns no email domain yet" in out


def test_sso_add_refuses_a_domain_another_university_owns(univ, oidc) -> None:
    other = OrganizationFactory()
    EmailDomain.objects.create(organization=other, domain="taken.example")
    with pytest.raises(CommandError, match="belongs to"):
        sso_add(
            "--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", "cid",
            "--domain", "taken.example",
        )  # fmt: skip
    assert not IdentityProvider.objects.exists()


def test_sso_add_refuses_a_url_that_is_not_an_oidc_provider(univ, oidc) -> None:
    with pytest.raises(CommandError, match="discovery document"):
        sso_add(
            "--org", "univ", "--oidc-discovery-url", oidc.url + "/nothing-here", "--client-id", "c"
        )


def test_sso_add_needs_exactly_one_protocol(univ) -> None:
    with pytest.raises(CommandError, match="either"):
        sso_add("--org", "univ")


def test_sso_add_refuses_an_unknown_role(univ, oidc) -> None:
    with pytest.raises(CommandError, match="AFFILIATION=ROLE"):
        sso_add(
            "--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", "c",
            "--role", "faculty=superuser",
        )  # fmt: skip


def test_sso_list_and_sso_remove(univ, univ_oidc) -> None:
    out = StringIO()
    call_command("sso_list", stdout=out)
    assert "univ\toidc\t" in out.getvalue()
    assert "univ.example" in out.getvalue()
    out = StringIO()
    call_command("sso_remove", "--org", "univ", stdout=out)
    assert "Removed" in out.getvalue()
    assert not IdentityProvider.objects.exists()
    assert not SocialApp.objects.exists()
    with pytest.raises(CommandError):
        call_command("sso_remove", "--org", "univ")
