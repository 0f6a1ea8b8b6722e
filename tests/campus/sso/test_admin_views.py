"""The university admin's sign-in page: /universities/<org>/sign-in/."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campus.models import AuditAction, AuditLog, EmailDomain, IdentityProvider, Role
from tests.support.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, univ):
    admin = MembershipFactory(organization=univ, role=Role.ORG_ADMIN).user
    client.force_login(admin)
    EmailDomain.objects.create(organization=univ, domain="univ.example")
    return client


def test_an_admin_connects_an_oidc_provider_and_sees_the_redirect_uri(admin_client, oidc) -> None:
    response = admin_client.post(
        "/universities/univ/sign-in/oidc/",
        {"discovery_url": oidc.url, "client_id": "cid", "client_secret": "s"},
    )
    assert response.status_code == 302
    page = admin_client.get("/universities/univ/sign-in/").content.decode()
    assert "http://127.0.0.1:8000/accounts/oidc/oidc-univ/login/callback/" in page
    idp = IdentityProvider.objects.get()
    assert (idp.app.client_id, idp.app.secret) == ("cid", "s")
    assert AuditLog.objects.filter(action=AuditAction.IDP_ADDED).exists()
    # an empty secret on a later save keeps the current one
    admin_client.post(
        "/universities/univ/sign-in/oidc/", {"discovery_url": oidc.url, "client_id": "cid2"}
    )
    idp.app.refresh_from_db()
    assert (idp.app.client_id, idp.app.secret) == ("cid2", "s")


def test_an_admin_uploads_saml_metadata_and_sees_the_sp_metadata_url(
    admin_client, saml_idp
) -> None:
    upload = SimpleUploadedFile("idp.xml", saml_idp.metadata().encode(), "text/xml")
    response = admin_client.post("/universities/univ/sign-in/saml/", {"metadata_file": upload})
    assert response.status_code == 302
    page = admin_client.get("/universities/univ/sign-in/").content.decode()
    assert "http://127.0.0.1:8000/accounts/saml/univ/metadata/" in page
    assert IdentityProvider.objects.get().app.settings["idp"]["entity_id"] == saml_idp.entity_id


def test_bad_metadata_is_explained_and_the_form_kept(admin_client) -> None:
    upload = SimpleUploadedFile("idp.xml", b"<not-metadata/>", "text/xml")
    response = admin_client.post("/universities/univ/sign-in/saml/", {"metadata_file": upload})
    assert response.status_code == 400
    assert "metadata" in response.content.decode()
    assert not IdentityProvider.objects.exists()


def test_an_admin_sets_sso_only_and_the_role_map(admin_client, univ_oidc) -> None:
    idp = IdentityProvider.objects.get()
    prefix = f"idp{idp.pk}"
    response = admin_client.post(
        f"/universities/univ/sign-in/{idp.pk}/options/",
        {f"{prefix}-sso_only": "on", f"{prefix}-default_role": "student",
         f"{prefix}-role_map": "faculty=instructor\nstaff=ta"},
    )  # fmt: skip
    assert response.status_code == 302
    idp.refresh_from_db()
    assert idp.sso_only
    assert idp.role_map == {"faculty": "instructor", "staff": "ta"}
    bad = admin_client.post(
        f"/universities/univ/sign-in/{idp.pk}/options/",
        {f"{prefix}-default_role": "student", f"{prefix}-role_map": "faculty=king"},
    )
    assert bad.status_code == 400
    assert "faculty=king" in bad.content.decode()


def test_an_admin_removes_the_provider(admin_client, univ_oidc) -> None:
    idp = IdentityProvider.objects.get()
    admin_client.post(f"/universities/univ/sign-in/{idp.pk}/remove/")
    assert not IdentityProvider.objects.exists()
    assert AuditLog.objects.filter(action=AuditAction.IDP_REMOVED).exists()


def test_an_instructor_or_another_universitys_admin_cannot_touch_it(
    client, univ, univ_oidc
) -> None:
    idp = IdentityProvider.objects.get()
    client.force_login(MembershipFactory(organization=univ, role=Role.INSTRUCTOR).user)
    assert client.get("/universities/univ/sign-in/").status_code == 403
    other_admin = MembershipFactory(organization=OrganizationFactory(), role=Role.ORG_ADMIN).user
    client.force_login(other_admin)
    assert client.get("/universities/univ/sign-in/").status_code == 404
    assert client.post(f"/universities/univ/sign-in/{idp.pk}/remove/").status_code == 404
    assert IdentityProvider.objects.exists()
