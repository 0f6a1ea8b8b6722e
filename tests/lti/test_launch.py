"""Resource-link launches from the emulated LMS: the happy paths, then attacks that must
fail (each leaves nobody logged in and nothing enrolled)."""

import time
from typing import Any

import jwt
import pytest
from django.test import Client

from campus.models import Membership, Role
from courses.models import Enrollment, EnrollmentRole
from lti.models import ContextCohort, Deployment, LaunchState, PlatformAccount, ResourceLink
from tests.lti.conftest import Campus, authorize, launch
from tests.support.factories import (
    CourseFactory,
    ExerciseFactory,
    ModuleFactory,
    UserFactory,
)
from tests.support.lti_platform import (
    INSTRUCTOR,
    LEARNER,
    MEMBERSHIP,
    Member,
    Platform,
    new_rsa_key,
)

pytestmark = pytest.mark.django_db


def logged_in_user_id(client: Client) -> Any:
    return client.session.get("_auth_user_id")


def test_a_learner_lands_on_the_exercise_logged_in(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # given
    platform.add_member(
        "ctx-1", Member("learner-1", LEARNER, name="Ada Lovelace", email="ada@lms.example")
    )
    # when
    response = launch(platform, client, target=campus.exercise_url())
    # then
    assert response.status_code == 302
    assert response["Location"] == campus.exercise_url().removeprefix("http://testserver")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert campus.exercise.title in page.content.decode()
    account = PlatformAccount.objects.get(issuer=platform.issuer, sub="learner-1")
    assert str(account.user.pk) == logged_in_user_id(client)
    assert account.user.name == "Ada Lovelace"
    enrollment = Enrollment.objects.get(user=account.user)
    assert enrollment.role == EnrollmentRole.STUDENT
    assert enrollment.cohort.course == campus.course
    assert ContextCohort.objects.get(cohort=enrollment.cohort).context.context_id == "ctx-1"
    link = ResourceLink.objects.get(resource_link_id="link-1")
    assert link.exercise == campus.exercise
    assert link.lineitem_url.startswith(platform.url + "/lineitems/")


def test_a_second_launch_finds_the_same_account_and_cohort(
    platform: Platform, campus: Campus, client: Client
) -> None:
    launch(platform, client, target=campus.exercise_url())
    first = logged_in_user_id(client)
    other_browser = Client()
    launch(platform, other_browser, target=campus.exercise_url())
    assert logged_in_user_id(other_browser) == first
    assert Enrollment.objects.filter(user_id=first).count() == 1
    assert ContextCohort.objects.count() == 1


def test_an_account_is_never_found_by_the_lms_email(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # given: someone here owns the address the LMS claims for its user
    victim = UserFactory.create(email="victim@uni.example")
    platform.add_member("ctx-1", Member("attacker", LEARNER, email="victim@uni.example"))
    # when
    launch(platform, client, user_id="attacker", target=campus.exercise_url())
    # then
    assert logged_in_user_id(client) != str(victim.pk)
    assert not Enrollment.objects.filter(user=victim).exists()
    attacker = PlatformAccount.objects.get(sub="attacker").user
    assert attacker.email.endswith("@lti.invalid")
    assert not attacker.has_usable_password()


def test_an_instructor_launch_enrolls_an_instructor(
    platform: Platform, campus: Campus, client: Client
) -> None:
    launch(platform, client, user_id="teacher", roles=INSTRUCTOR, target=campus.exercise_url())
    enrollment = Enrollment.objects.get(user__lti_accounts__sub="teacher")
    assert enrollment.role == EnrollmentRole.INSTRUCTOR


def test_a_teaching_assistant_is_a_ta_and_an_lms_admin_a_university_admin(
    platform: Platform, campus: Campus, client: Client
) -> None:
    roles = [
        MEMBERSHIP[:-1] + "/Instructor#TeachingAssistant",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    ]
    launch(platform, client, user_id="ta", roles=roles, target=campus.exercise_url())
    user = PlatformAccount.objects.get(sub="ta").user
    assert Enrollment.objects.get(user=user).role == EnrollmentRole.TA
    assert (
        Membership.objects.get(user=user, organization=campus.organization).role == Role.ORG_ADMIN
    )


def test_a_role_change_in_the_lms_changes_the_cohort_role(
    platform: Platform, campus: Campus, client: Client
) -> None:
    launch(platform, client, user_id="p", roles=LEARNER, target=campus.exercise_url())
    launch(platform, Client(), user_id="p", roles=INSTRUCTOR, target=campus.exercise_url())
    assert Enrollment.objects.get(user__lti_accounts__sub="p").role == EnrollmentRole.INSTRUCTOR


def test_a_lesson_link_lands_on_the_lesson(
    platform: Platform, campus: Campus, client: Client
) -> None:
    course = campus.course
    url = f"http://testserver/courses/{campus.organization.slug}/{course.slug}/lessons/{campus.lesson.slug}/"
    response = launch(platform, client, target=url)
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200


def test_an_instructor_elsewhere_is_only_a_learner_here(
    platform: Platform, campus: Campus, client: Client
) -> None:
    """Instructor in LMS course B (linked to another of our courses), learner in A: A's
    launch gives a learner's access to A's course and nothing more."""
    # given
    other_course = CourseFactory.create(organization=campus.organization)
    other_exercise = ExerciseFactory.create(module=ModuleFactory.create(course=other_course))
    launch(
        platform,
        client,
        user_id="p",
        context_id="ctx-B",
        roles=INSTRUCTOR,
        target=campus.exercise_url(other_exercise),
        resource_link_id="link-B",
    )
    # when
    launch(
        platform,
        client,
        user_id="p",
        context_id="ctx-A",
        roles=LEARNER,
        target=campus.exercise_url(),
    )
    # then
    user = PlatformAccount.objects.get(sub="p").user
    roles = {e.cohort.course_id: e.role for e in Enrollment.objects.filter(user=user)}
    assert roles == {
        other_course.pk: EnrollmentRole.INSTRUCTOR,
        campus.course.pk: EnrollmentRole.STUDENT,
    }
    teach = client.get(f"/courses/teach/{campus.organization.slug}/{campus.course.slug}/gradebook/")
    assert teach.status_code in (403, 404)


def test_a_person_without_a_course_role_is_refused(
    platform: Platform, campus: Campus, client: Client
) -> None:
    response = launch(
        platform,
        client,
        user_id="guest",
        roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"],
        target=campus.exercise_url(),
    )
    assert response.status_code == 403
    assert not Enrollment.objects.exists()


# ------------------------------------------------------------------ attacks


def assert_refused(response: Any, client: Client, words: str) -> None:
    assert response.status_code == 403
    assert words in response.content.decode()
    assert logged_in_user_id(client) is None
    assert not Enrollment.objects.exists()


def test_a_forged_signature_is_refused(platform: Platform, campus: Campus, client: Client) -> None:
    _key, attacker_pem = new_rsa_key()
    response = launch(
        platform,
        client,
        target=campus.exercise_url(),
        key_pem=attacker_pem,
        mutate=lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/roles": INSTRUCTOR},
    )
    assert_refused(response, client, "signature")


def test_an_unsigned_token_is_refused(platform: Platform, campus: Campus, client: Client) -> None:
    params = platform.prepare_launch(
        user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
    )
    form = authorize(platform, client, params)
    claims = jwt.decode(form["id_token"], options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    response = client.post("/lti/launch/", {"id_token": unsigned, "state": form["state"]})
    assert_refused(response, client, "algorithm")


def test_a_token_for_another_tool_is_refused(
    platform: Platform, campus: Campus, client: Client
) -> None:
    response = launch(
        platform, client, target=campus.exercise_url(), mutate=lambda c: {**c, "aud": "other-tool"}
    )
    assert_refused(response, client, "another tool")


def test_a_token_for_several_audiences_needs_our_azp(
    platform: Platform, campus: Campus, client: Client
) -> None:
    response = launch(
        platform,
        client,
        target=campus.exercise_url(),
        mutate=lambda c: {**c, "aud": [c["aud"], "other-tool"], "azp": "other-tool"},
    )
    assert_refused(response, client, "authorized party")


def test_a_token_from_another_issuer_is_refused(
    platform: Platform, campus: Campus, client: Client
) -> None:
    response = launch(
        platform,
        client,
        target=campus.exercise_url(),
        mutate=lambda c: {**c, "iss": "https://evil.example"},
    )
    assert_refused(response, client, "another LMS")


def test_an_expired_token_is_refused(platform: Platform, campus: Campus, client: Client) -> None:
    an_hour_ago = int(time.time()) - 3600
    response = launch(
        platform,
        client,
        target=campus.exercise_url(),
        mutate=lambda c: {**c, "iat": an_hour_ago - 300, "exp": an_hour_ago},
    )
    assert_refused(response, client, "expired")


def test_a_replayed_launch_is_refused(platform: Platform, campus: Campus, client: Client) -> None:
    params = platform.prepare_launch(
        user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
    )
    form = authorize(platform, client, params)
    first = client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert first.status_code == 302
    replay = Client()
    second = replay.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert second.status_code == 403
    assert "already used" in second.content.decode()
    assert logged_in_user_id(replay) is None


def test_a_nonce_from_another_login_is_refused(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # given: two logins; the attacker posts the first login's token with the second's state
    first = authorize(
        platform,
        client,
        platform.prepare_launch(
            user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
        ),
    )
    second = authorize(
        platform,
        client,
        platform.prepare_launch(
            user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
        ),
    )
    response = client.post(
        "/lti/launch/", {"id_token": first["id_token"], "state": second["state"]}
    )
    assert_refused(response, client, "nonce")


def test_an_unknown_deployment_is_refused(
    platform: Platform, campus: Campus, client: Client
) -> None:
    response = launch(
        platform,
        client,
        target=campus.exercise_url(),
        mutate=lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "rogue"},
    )
    assert_refused(response, client, "rogue")
    assert not Deployment.objects.filter(deployment_id="rogue").exists()


def test_an_unknown_state_is_refused(platform: Platform, campus: Campus, client: Client) -> None:
    params = platform.prepare_launch(
        user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
    )
    form = authorize(platform, client, params)
    LaunchState.objects.all().delete()
    response = client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert_refused(response, client, "expired")


def test_a_revoked_registration_launches_nothing(
    platform: Platform, campus: Campus, client: Client
) -> None:
    params = platform.prepare_launch(
        user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
    )
    form = authorize(platform, client, params)
    campus.registration.active = False
    campus.registration.save(update_fields=["active"])
    response = client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert_refused(response, client, "revoked")


def test_a_login_from_an_unregistered_lms_is_refused(client: Client, db: None) -> None:
    response = client.post(
        "/lti/login/",
        {
            "iss": "https://unknown.example",
            "login_hint": "u",
            "target_link_uri": "http://testserver/",
        },
    )
    assert response.status_code == 403
    assert "not registered" in response.content.decode()


def test_a_link_to_another_universitys_course_opens_nothing(
    platform: Platform, campus: Campus, client: Client
) -> None:
    foreign = ExerciseFactory.create()
    response = launch(platform, client, target=campus.exercise_url(foreign))
    assert response.status_code == 302
    assert response["Location"] == "/courses/"
    assert not Enrollment.objects.exists()


def test_the_state_cookie_of_another_login_is_refused(
    platform: Platform, campus: Campus, client: Client
) -> None:
    params = platform.prepare_launch(
        user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
    )
    form = authorize(platform, client, params)
    client.cookies["lti_state"] = "another-login"
    response = client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert response.status_code == 400
    assert logged_in_user_id(client) is None
