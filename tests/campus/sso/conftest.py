"""University sign-in fixtures: a university that owns univ.example, and real providers."""

from collections.abc import Iterator
from io import StringIO
from urllib.parse import urlparse

import pytest
import requests
from django.core.management import call_command

from campus.models import Organization
from tests.support.oidc_provider import OidcProvider, oidc_provider


@pytest.fixture
def oidc() -> Iterator[OidcProvider]:
    with oidc_provider() as provider:
        yield provider


@pytest.fixture
def univ(db: None) -> Organization:
    return Organization.objects.create(name="Université Exemple", slug="univ", country="FR")


def sso_add(*args: str) -> str:
    out = StringIO()
    call_command("sso_add", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def univ_oidc(univ: Organization, oidc: OidcProvider) -> OidcProvider:
    sso_add(
        "--org", "univ", "--oidc-discovery-url", oidc.url, "--client-id", oidc.client_id,
        "--client-secret", oidc.client_secret, "--domain", "univ.example",
        "--role", "faculty=instructor",
    )  # fmt: skip
    return oidc


def oidc_sign_in(client, provider: OidcProvider, provider_id: str = "oidc-univ", **claims):
    """The browser's trip: our login → the provider → our callback. Returns the callback's
    response."""
    provider.user = claims
    start = client.post(f"/accounts/oidc/{provider_id}/login/")
    assert start.status_code == 302, start
    back = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def signed_in_email(client) -> str | None:
    from campus.models import User

    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).email if user_id else None
