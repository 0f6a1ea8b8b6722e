"""Dynamic Registration with the emulated LMS, and the university admin's LTI page."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from campus.models import AuditLog, Role
from lti import registration as dynamic
from lti.models import Registration
from tests.lti.conftest import launch
from tests.support.factories import (
    CourseFactory,
    MembershipFactory,
    ModuleFactory,
    OrganizationFactory,
)
from tests.support.lti_platform import LEARNER, Platform

pytestmark = pytest.mark.django_db


def registration_url(client: Client, org_slug: str) -> str:
    page = client.get(f"/universities/{org_slug}/lti/")
    assert page.status_code == 200
    return page.context["registration_url"]


@pytest.fixture
def admin_client(client: Client) -> tuple[Client, str]:
    admin = MembershipFactory.create(role=Role.ORG_ADMIN)
    client.force_login(admin.user)
    return client, admin.organization.slug


def register(platform: Platform, client: Client, url: str) -> object:
    query = urlencode(
        {
            "openid_configuration": platform.url + "/.well-known/openid-configuration",
            "registration_token": platform.registration_token(),
        }
    )
    return Client().get(url.removeprefix("http://testserver") + "?" + query)


def test_the_lms_registers_the_tool_from_the_pasted_url_then_launches(
    platform: Platform, admin_client: tuple[Client, str]
) -> None:
    # given
    client, org_slug = admin_client
    url = registration_url(client, org_slug)
    # when
    response = register(platform, client, url)
    # then
    assert response.status_code == 200
    assert "is now connected" in response.content.decode()
    (sent,) = platform.registrations
    assert sent["initiate_login_uri"] == "http://testserver/lti/login/"
    assert sent["redirect_uris"] == ["http://testserver/lti/launch/"]
    assert sent["jwks_uri"] == "http://testserver/lti/jwks.json"
    registration = Registration.objects.get()
    assert registration.organization.slug == org_slug
    assert (registration.issuer, registration.client_id) == (platform.issuer, platform.client_id)
    assert registration.keyset_url == platform.url + "/jwks"
    assert list(registration.deployments.values_list("deployment_id", flat=True)) == [
        platform.deployment_id
    ]
    # and a launch works with what was registered
    course = CourseFactory.create(organization=registration.organization)
    module = ModuleFactory.create(course=course)
    lesson = module.lessons.create(slug="intro", title="Intro")
    platform.tool_jwks = client.get("/lti/jwks.json").json()
    target = f"http://testserver/courses/{org_slug}/{course.slug}/lessons/{lesson.slug}/"
    assert launch(platform, Client(), roles=LEARNER, target=target).status_code == 302


def test_a_forged_registration_url_registers_nothing(platform: Platform, db: None) -> None:
    token = dynamic.registration_token(organization=OrganizationFactory.create()) + "x"
    response = register(platform, Client(), f"/lti/register/{token}/")
    assert response.status_code == 403
    assert not Registration.objects.exists()
    assert platform.registrations == []


def test_an_issuer_that_is_not_the_configuration_host_is_refused(
    platform: Platform, admin_client: tuple[Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, org_slug = admin_client
    real = platform.openid_configuration
    monkeypatch.setattr(
        platform, "openid_configuration", lambda: {**real(), "issuer": "https://lms.other"}
    )
    response = register(platform, client, registration_url(client, org_slug))
    assert response.status_code == 400
    assert "issuer" in response.content.decode()
    assert not Registration.objects.exists()


def test_an_admin_sees_and_revokes_a_registration(
    platform: Platform, admin_client: tuple[Client, str]
) -> None:
    client, org_slug = admin_client
    register(platform, client, registration_url(client, org_slug))
    registration = Registration.objects.get()
    page = client.get(f"/universities/{org_slug}/lti/")
    assert platform.issuer in page.content.decode()
    # when
    client.post(f"/universities/{org_slug}/lti/{registration.pk}/revoke/")
    # then
    registration.refresh_from_db()
    assert not registration.active
    assert AuditLog.objects.filter(action="lti_revoked", target_id=registration.pk).exists()


def test_another_universitys_admin_cannot_revoke(
    platform: Platform, admin_client: tuple[Client, str]
) -> None:
    client, org_slug = admin_client
    register(platform, client, registration_url(client, org_slug))
    registration = Registration.objects.get()
    stranger = MembershipFactory.create(role=Role.ORG_ADMIN)
    other = Client()
    other.force_login(stranger.user)
    response = other.post(
        f"/universities/{stranger.organization.slug}/lti/{registration.pk}/revoke/"
    )
    assert response.status_code == 404
    assert other.get(f"/universities/{org_slug}/lti/").status_code == 404
    registration.refresh_from_db()
    assert registration.active


def test_a_learner_of_the_university_cannot_see_the_registration_url(db: None) -> None:
    member = MembershipFactory.create(role=Role.STUDENT)
    client = Client()
    client.force_login(member.user)
    assert client.get(f"/universities/{member.organization.slug}/lti/").status_code == 403
