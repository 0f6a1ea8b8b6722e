"""What a learner is told while their course's environment is being built, or failed to
build: running a cell says so (nothing starts), submitting is accepted and waits."""

import json
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client

from courses import queues
from courses.environments.services import environment_build, environment_request
from courses.exercises.services import exercise_create
from courses.learn import sessions
from courses.models import (
    CourseEnvironment,
    EnrollmentRole,
    EnvironmentStatus,
    Submission,
    SubmissionStatus,
)
from sandbox import build_percent
from tests.support.exercises import add_exercise, answered, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory

pytestmark = pytest.mark.django_db

BUILDING = "creating the environment\nresolving 1 pinned packages with the kernel runtime's\n"


@pytest.fixture(autouse=True)
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    """Tasks sent by name (nothing runs them here)."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(queues, "send", lambda name, *args, **options: calls.append((name, args)))
    return calls


@pytest.fixture
def runs(monkeypatch) -> list[int]:
    """Run requests that reached the kernel sessions (none may while nothing can start)."""
    calls: list[int] = []
    monkeypatch.setattr(
        sessions, "session_run_request", lambda **kwargs: calls.append(kwargs["exercise_id"])
    )
    return calls


@pytest.fixture
def learner():
    """A learner of a course pinning a package, on the page of its `add` exercise."""
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course), title="Add", slug="add",
        notebook=as_json(add_exercise()),
    )  # fmt: skip
    environment_request(course=course, requirements="ost-hello==1.0")
    client = Client()
    client.force_login(enrollment.user)
    base = f"/courses/{course.organization.slug}/{course.slug}/exercises/add/"
    return enrollment, exercise, base, client


def _run(client: Client, base: str, language: str = "en"):
    body = json.dumps({"cells": [{"key": "a", "code": "1 + 1"}]})
    return client.post(
        base + "kernel/run", body, "application/json", headers={"accept-language": language}
    )


def _submit(client: Client, base: str):
    notebook = answered(add_exercise(), add="def add(a, b):\n    return a + b\n")
    return client.post(base + "submit", json.dumps(notebook), "application/json")


def test_build_progress_reads_as_a_percentage_that_only_grows() -> None:
    steps = [
        "",
        "creating the environment",
        "resolving 2 pinned packages with the kernel runtime's",
        "Collecting ost-hello==1.0",
        "Collecting tabulate==0.9.0",
        "installing 2: ost-hello==1.0, tabulate==0.9.0",
        "Collecting ost-hello==1.0",
        "Installing collected packages: ost-hello, tabulate",
        "Successfully installed ost-hello-1.0 tabulate-0.9.0",
        "ready",
    ]
    percents = [build_percent("\n".join(steps[: n + 1])) for n in range(len(steps))]
    assert percents == [0, 10, 20, 22, 24, 60, 60, 85, 95, 100]


def test_while_it_builds_a_run_says_so_with_progress_and_starts_nothing(learner, runs) -> None:
    # given an environment halfway through resolving
    _, _, base, client = learner
    CourseEnvironment.objects.update(status=EnvironmentStatus.BUILDING, progress=BUILDING)

    # when the learner opens the page and runs a cell, in English and in French
    page = client.get(base).content.decode()
    english = _run(client, base)
    french = _run(client, base, "fr")

    # then both say what is happening, how far along, and that the work is kept
    said = (
        "This course&#x27;s software environment is being prepared (20 %). Your work is kept; "
        "try again in a minute."
    )
    assert said in page
    assert english.status_code == 503
    assert english.json()["error"] == (
        "This course's software environment is being prepared (20 %). Your work is kept; "
        "try again in a minute."
    )
    assert english.json()["environment"] == {
        "state": "building", "percent": 20, "message": english.json()["error"]
    }  # fmt: skip
    assert french.json()["error"].startswith(
        "L’environnement logiciel de ce cours est en préparation (20 %)."  # noqa: RUF001
    )
    assert runs == []


def test_a_submission_meanwhile_is_accepted_and_waits_for_the_environment(
    learner, sent, django_capture_on_commit_callbacks
) -> None:
    # given an environment still queued
    _, _, base, client = learner

    # when the learner submits
    with django_capture_on_commit_callbacks(execute=True):
        response = _submit(client, base)

    # then it is accepted, queued, and the answer says why it waits
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["environment"]["state"] == "building"
    assert "is being prepared (0 %)" in body["environment"]["message"]
    submission = Submission.objects.get(pk=body["id"])
    assert submission.status == SubmissionStatus.QUEUED
    assert submission.notebook["cells"]  # the work is kept, graded once the build is ready
    assert (queues.GRADE_SUBMISSION, (submission.pk,)) in sent


def test_once_ready_the_page_and_runs_say_nothing_of_it(learner, runs) -> None:
    _, exercise, base, client = learner
    CourseEnvironment.objects.update(status=EnvironmentStatus.READY, progress="ready")

    assert 'id="environment-notice"' not in client.get(base).content.decode()
    assert _run(client, base).status_code == 202
    assert runs == [exercise.pk]


@pytest.mark.xdist_group("course-runtime")
def test_a_failed_build_tells_the_instructors_and_the_learner_says_they_were_told(
    learner, runs, settings, package_index: str, course_runtimes: Path
) -> None:
    # given a course whose pins the package index cannot satisfy, and its instructor
    enrollment, _, base, client = learner
    course = enrollment.cohort.course
    instructor = EnrollmentFactory(cohort=enrollment.cohort, role=EnrollmentRole.INSTRUCTOR)
    settings.COURSE_PACKAGE_INDEX_URL = package_index
    environment = environment_request(course=course, requirements="ost-hello==9.9")

    # when the build runs
    environment_build(environment_id=environment.pk)

    # then the instructor (only) got pip's message and where to fix it
    assert [m.to for m in mail.outbox] == [[instructor.user.email]]
    assert course.title in mail.outbox[0].subject
    assert "No matching distribution found for ost-hello==9.9" in mail.outbox[0].body
    assert f"/courses/teach/{course.organization.slug}/{course.slug}/environment" in (
        mail.outbox[0].body
    )
    # and the learner is told, in English and French, with nothing started
    english, french = _run(client, base), _run(client, base, "fr")
    assert english.status_code == 503
    assert english.json()["environment"]["state"] == "failed"
    assert english.json()["error"].startswith(
        "This course's software environment could not be built, so code cannot run yet. "
        "Your instructors have been told."
    )
    assert "Vos enseignants ont été prévenus." in french.json()["error"]
    assert "could not be built" in client.get(base).content.decode()
    assert runs == []
    # and a submission is still accepted, to be graded once the pins are fixed
    response = _submit(client, base)
    assert response.status_code == 202 and response.json()["environment"]["state"] == "failed"
