"""The login page's "Sign in with your university", and SSO-only universities."""

import pytest
from django.contrib.auth import authenticate

from campus.models import EmailDomain, IdentityProvider
from tests.support.factories import PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso_only(univ, univ_oidc) -> IdentityProvider:
    idp = IdentityProvider.objects.get(organization=univ)
    idp.sso_only = True
    idp.save(update_fields=["sso_only"])
    return idp


def test_the_login_page_offers_the_university_search_without_listing_every_provider(
    client, univ_oidc
) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with your university" in page
    assert 'data-sso-search="/accounts/university/"' in page
    assert "/static/js/sso.js" in page
    assert "<script>" not in page  # no inline script (Content-Security-Policy)
    assert "Université Exemple" not in page  # found by searching, not listed


@pytest.mark.parametrize("query", ["exemple", "UNIV", "univ.example", "ada@etu.univ.example"])
def test_the_search_finds_a_university_by_name_slug_domain_or_address(
    client, univ, univ_oidc, query
) -> None:
    EmailDomain.objects.create(organization=univ, domain="etu.univ.example")
    page = client.get("/accounts/university/", {"q": query}).content.decode()
    assert "Sign in with Université Exemple" in page
    assert 'action="/accounts/oidc/oidc-univ/login/"' in page
    data = client.get("/accounts/university/search.json", {"q": query}).json()
    assert data["results"] == [
        {"name": "Université Exemple", "protocol": "OpenID Connect",
         "url": "/accounts/oidc/oidc-univ/login/"}
    ]  # fmt: skip


def test_the_search_says_so_when_nothing_matches(client, univ_oidc) -> None:
    page = client.get("/accounts/university/", {"q": "nowhere"}).content.decode()
    assert "No university with its own sign-in matches" in page
    assert client.get("/accounts/university/search.json", {"q": "nowhere"}).json() == {
        "results": [],
        "sso_only": None,
    }


def test_the_search_page_lists_each_university_once_in_a_query_count_that_does_not_grow(
    client, django_assert_max_num_queries, univ_oidc
) -> None:
    for _ in range(5):
        org = OrganizationFactory(name="Exemple bis")
        EmailDomain.objects.create(organization=org, domain=f"{org.slug}.example")
    with django_assert_max_num_queries(6):
        client.get("/accounts/university/search.json", {"q": "exemple"})


def test_an_sso_only_address_is_named_by_the_json_lookup(client, sso_only) -> None:
    data = client.get("/accounts/university/search.json", {"q": "ada@univ.example"}).json()
    assert data["sso_only"] == {
        "name": "Université Exemple",
        "url": "/accounts/oidc/oidc-univ/login/",
    }


def test_a_password_login_is_refused_for_an_sso_only_domain_with_what_to_do(
    client, sso_only
) -> None:
    UserFactory(email="ada@univ.example")
    response = client.post("/accounts/login/", {"login": "ada@univ.example", "password": PASSWORD})
    assert response.status_code == 200
    assert "signs its people in itself" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_no_backend_accepts_a_password_for_an_sso_only_domain(sso_only) -> None:
    # The admin's login and any other form go through the backends too.
    UserFactory(email="ada@etu.univ.example")
    EmailDomain.objects.create(organization=sso_only.organization, domain="etu.univ.example")
    assert authenticate(None, email="ada@etu.univ.example", password=PASSWORD) is None
    assert authenticate(None, username="ada@etu.univ.example", password=PASSWORD) is None


def test_other_domains_still_log_in_with_a_password(client, sso_only) -> None:
    UserFactory(email="guest@elsewhere.example")
    response = client.post(
        "/accounts/login/", {"login": "guest@elsewhere.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_signing_up_with_a_password_is_refused_for_an_sso_only_domain(client, sso_only) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "new@univ.example", "password1": "a-long-passphrase-9",
         "password2": "a-long-passphrase-9"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "signs its people in itself" in response.content.decode()
