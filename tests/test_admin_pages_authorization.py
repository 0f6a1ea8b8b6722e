"""Walk every URL of the admin pages (members, audit log, cohorts, CSV enrollment, invite
links) with every wrong role: each gets a redirect to the login page, a 403 or a 404, never
the data, and nothing changes."""

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern

from campus import urls as campus_urls
from campus.models import AuditLog, IdentityProvider, Membership, Role
from courses.models import Cohort, Enrollment, EnrollmentRole
from courses.urls import cohort_patterns
from tests.support.factories import (
    CohortFactory,
    CourseFactory,
    EnrollmentFactory,
    MembershipFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

SECRETS = (
    "Target University",
    "Target Course",
    "Target Cohort",
    "secret.member@target.example",
    "secret.learner@target.example",
)
WRONG_ROLES = ["anonymous", "student", "ta", "instructor_elsewhere", "admin_elsewhere"]


@pytest.fixture
def target():
    organization = OrganizationFactory(name="Target University", slug="target")
    course = CourseFactory(organization=organization, title="Target Course", slug="course")
    cohort = CohortFactory(course=course, name="Target Cohort")
    member = MembershipFactory(
        organization=organization, user__email="secret.member@target.example"
    )
    learner = EnrollmentFactory(cohort=cohort, user__email="secret.learner@target.example")
    app = SocialApp.objects.create(
        provider="openid_connect", provider_id="oidc-target", name="Target", client_id="c",
        settings={"server_url": "https://login.target.example"},
    )  # fmt: skip
    idp = IdentityProvider.objects.create(organization=organization, protocol="oidc", app=app)
    return {
        "idp": idp,
        "organization": organization,
        "course": course,
        "cohort": cohort,
        "member": member,
        "learner": learner,
    }


def _person(role: str, target) -> object | None:
    organization, cohort = target["organization"], target["cohort"]
    if role == "anonymous":
        return None
    if role in ("student", "ta"):
        enrollment_role = EnrollmentRole.STUDENT if role == "student" else EnrollmentRole.TA
        user = EnrollmentFactory(cohort=cohort, role=enrollment_role).user
        MembershipFactory(organization=organization, user=user, role=Role(enrollment_role))
        return user
    if role == "instructor_elsewhere":
        # An instructor of another course of the same university: the closest stranger.
        other_course = CourseFactory(organization=organization)
        user = EnrollmentFactory(cohort__course=other_course, role=EnrollmentRole.INSTRUCTOR).user
        MembershipFactory(organization=organization, user=user, role=Role.INSTRUCTOR)
        return user
    other_admin = MembershipFactory(role=Role.ORG_ADMIN)
    CohortFactory(course=CourseFactory(organization=other_admin.organization))
    return other_admin.user


def _requests(target) -> list[tuple[str, str, str, dict[str, object]]]:
    """(url name, method, path, data) for every page and action."""
    org = target["organization"].slug
    course = f"/courses/{org}/{target['course'].slug}/cohorts/"
    cohort = f"{course}{target['cohort'].pk}/"
    form: dict[str, object] = {"name": "Hijacked", "time_zone": "UTC", "capacity": "1"}
    csv = b"email,role\nintruder@example.org,instructor\n"
    return [
        ("universities", "get", "/universities/", {}),
        ("members", "get", f"/universities/{org}/members/", {}),
        ("members", "get", f"/universities/{org}/members/?q=secret", {}),
        (
            "member_role",
            "post",
            f"/universities/{org}/members/{target['member'].pk}/role/",
            {"role": Role.ORG_ADMIN},
        ),
        ("audit_log", "get", f"/universities/{org}/audit/", {}),
        ("audit_log", "get", f"/universities/{org}/audit/?q=secret&action=role_changed", {}),
        ("university_courses", "get", f"/universities/{org}/courses/", {}),
        ("sign_in", "get", f"/universities/{org}/sign-in/", {}),
        ("sign_in_saml", "post", f"/universities/{org}/sign-in/saml/", {"metadata_url": "x"}),
        (
            "sign_in_oidc",
            "post",
            f"/universities/{org}/sign-in/oidc/",
            {"discovery_url": "https://evil.example", "client_id": "evil"},
        ),
        (
            "sign_in_options",
            "post",
            f"/universities/{org}/sign-in/{target['idp'].pk}/options/",
            {f"idp{target['idp'].pk}-sso_only": "on", f"idp{target['idp'].pk}-default_role": "ta"},
        ),
        ("sign_in_remove", "post", f"/universities/{org}/sign-in/{target['idp'].pk}/remove/", {}),
        ("list", "get", course, {}),
        ("create", "get", course + "new/", {}),
        ("create", "post", course + "new/", form),
        ("edit", "get", cohort, {}),
        ("edit", "post", cohort, form),
        ("regenerate_code", "post", cohort + "code/", {}),
        ("import", "get", cohort + "enroll/", {}),
        ("import", "post", cohort + "enroll/", {"file": SimpleUploadedFile("x.csv", csv)}),
        ("people", "get", cohort + "people/", {}),
        ("people", "get", cohort + "people/?q=secret", {}),
        ("enrollment_role", "post", f"{cohort}people/{target['learner'].pk}/role/", {"role": "ta"}),
        ("enrollment_remove", "post", f"{cohort}people/{target['learner'].pk}/remove/", {}),
        ("join", "get", "/join/not-a-real-code/", {}),
        ("join", "post", "/join/not-a-real-code/", {}),
    ]


def test_the_walk_covers_every_url_of_these_pages(target) -> None:
    walked = {name for name, *_rest in _requests(target)}
    declared = {
        p.name for p in [*campus_urls.urlpatterns, *cohort_patterns] if isinstance(p, URLPattern)
    }
    assert walked == declared


@pytest.mark.parametrize("role", WRONG_ROLES)
def test_every_wrong_role_is_refused_everywhere_and_nothing_changes(client, target, role) -> None:
    person = _person(role, target)
    if person is not None:
        client.force_login(person)
    code = target["cohort"].enrollment_code
    enrollments_before = Enrollment.objects.count()
    for name, method, path, data in _requests(target):
        response = getattr(client, method)(path, data)
        where = f"{role} {method.upper()} {path}"
        if role == "anonymous":
            assert response.status_code == 302, where
            assert response["Location"].startswith("/accounts/login/"), where
        elif name == "universities" and role == "admin_elsewhere":
            # Their own university's page: it must still say nothing of the target.
            assert response.status_code == 200, where
        else:
            assert response.status_code in (403, 404), where
        body = response.content.decode()
        for secret in SECRETS:
            assert secret not in body, f"{where} shows {secret!r}"
    # and nothing changed
    assert not AuditLog.objects.exists()
    assert Membership.objects.get(pk=target["member"].pk).role == Role.STUDENT
    assert Cohort.objects.get(pk=target["cohort"].pk).enrollment_code == code
    idp = IdentityProvider.objects.select_related("app").get(pk=target["idp"].pk)
    assert (idp.sso_only, idp.default_role, idp.app.client_id) == (False, Role.STUDENT, "c")
    assert not Cohort.objects.filter(name="Hijacked").exists()
    assert Enrollment.objects.count() == enrollments_before
    assert Enrollment.objects.get(pk=target["learner"].pk).role == EnrollmentRole.STUDENT


def test_anonymous_visitors_of_a_real_invite_link_are_asked_to_log_in(client, target) -> None:
    code = target["cohort"].enrollment_code
    for method in ("get", "post"):
        response = getattr(client, method)(f"/join/{code}/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert Enrollment.objects.count() == 1  # the target's own learner
