"""An LMS (tests.support.lti_platform) registered by a university that has a course with an
exercise and a lesson, and a helper that launches through the LMS's standard flow."""

import re
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any

import jwt
import pytest
from django.test import Client

from campus.models import Organization
from courses.exercises.services import exercise_create
from courses.models import Course, Exercise, Lesson
from lti import keys
from lti.models import Deployment, Registration
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import (
    CourseFactory,
    LessonFactory,
    ModuleFactory,
    OrganizationFactory,
)
from tests.support.lti_platform import LEARNER, Platform

LAUNCH_URL = "http://testserver/lti/launch/"


_TOOL_KEYS: list[Any] = []


@pytest.fixture(autouse=True)
def few_tool_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our signing keys come from a small pool made once per process: generating RSA keys
    for every test would cost seconds. Each key handed out is still a distinct key."""
    handed = iter(range(1000))
    make = keys.generate_private_key

    def generate() -> Any:
        index = next(handed) % 3
        while len(_TOOL_KEYS) <= index:
            _TOOL_KEYS.append(make())
        return _TOOL_KEYS[index]

    monkeypatch.setattr(keys, "generate_private_key", generate)


@pytest.fixture
def platform() -> Iterator[Platform]:
    lms = Platform().start()
    lms.tool_redirect_uris = [LAUNCH_URL]
    lms.tool_login_url = "http://testserver/lti/login/"
    yield lms
    lms.stop()


@dataclass
class Campus:
    organization: Organization
    course: Course
    exercise: Exercise
    lesson: Lesson
    registration: Registration

    def exercise_url(self, exercise: Exercise | None = None) -> str:
        exercise = exercise or self.exercise
        course = exercise.module.course
        return (
            f"http://testserver/courses/{course.organization.slug}/{course.slug}"
            f"/exercises/{exercise.slug}/"
        )


def register(platform: Platform, organization: Organization) -> Registration:
    registration = Registration.objects.create(
        organization=organization, name="Emulated LMS", **platform.registration_fields()
    )
    Deployment.objects.create(registration=registration, deployment_id=platform.deployment_id)
    return registration


@pytest.fixture
def campus(db: None, platform: Platform, client: Client) -> Campus:
    organization = OrganizationFactory.create()
    course = CourseFactory.create(organization=organization)
    module = ModuleFactory.create(course=course)
    exercise = exercise_create(
        module=module, title="Add", slug="add", notebook=as_json(add_exercise()), position=1
    )
    lesson = LessonFactory.create(module=module)
    registration = register(platform, organization)
    platform.tool_jwks = client.get("/lti/jwks.json").json()
    return Campus(organization, course, exercise, lesson, registration)


def authorize(platform: Platform, client: Client, params: dict[str, str]) -> dict[str, str]:
    """Login initiation at the tool, then the LMS's authorization endpoint over HTTP: the
    form the LMS would post back to the tool."""
    response = client.post("/lti/login/", params)
    assert response.status_code == 302, response.content.decode()[:500]
    with urllib.request.urlopen(response["Location"], timeout=10) as answer:  # noqa: S310
        page = answer.read().decode()
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
    return {name: unescape(value) for name, value in fields.items()}


Mutation = Callable[[dict[str, Any]], dict[str, Any]]


def launch(
    platform: Platform,
    client: Client,
    *,
    user_id: str = "learner-1",
    context_id: str = "ctx-1",
    roles: list[str] | None = None,
    target: str,
    mutate: Mutation | None = None,
    key_pem: str | None = None,
    HTTP_SEC_FETCH_DEST: str | None = None,
    **prepare: Any,
) -> Any:
    """Launch through the LMS; `mutate` rewrites the signed claims (re-signed with `key_pem`,
    the LMS's own key by default) to play an attacker or a broken LMS."""
    params = platform.prepare_launch(
        user_id=user_id,
        context_id=context_id,
        roles=roles if roles is not None else LEARNER,
        target_link_uri=target,
        **prepare,
    )
    form = authorize(platform, client, params)
    if mutate is not None or key_pem is not None:
        claims = jwt.decode(form["id_token"], options={"verify_signature": False})
        claims = mutate(claims) if mutate else claims
        form["id_token"] = platform.sign(claims, key_pem=key_pem)
    headers = {"HTTP_SEC_FETCH_DEST": HTTP_SEC_FETCH_DEST} if HTTP_SEC_FETCH_DEST else {}
    return client.post(
        "/lti/launch/", {"id_token": form["id_token"], "state": form["state"]}, **headers
    )
