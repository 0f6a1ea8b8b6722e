"""Course environments: pins declared on the settings page (and in the course folder),
built once per set by a worker, and the course's notebooks graded in them."""

import io
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest
from django.core.management import call_command

from courses import queues
from courses.catalog.export import course_export
from courses.catalog.folder import CourseFolderInvalid
from courses.catalog.services import course_import
from courses.environments.services import (
    environment_build,
    environment_request,
    environments_collect,
)
from courses.environments.tasks import collect_environments as collect_environments_task
from courses.exercises.services import exercise_create
from courses.grading import kernels, services
from courses.models import CourseEnvironment, EnvironmentStatus, Submission, SubmissionStatus
from sandbox import environment_key, environment_path
from tests.support.exercises import _meta, answered, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory
from tests.support.package_index import GREETING
from tests.support.world import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    """Tasks sent by name (nothing runs them here: the tests call the services)."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(queues, "send", lambda name, *args, **options: calls.append((name, args)))
    return calls


def _course_page(course) -> str:
    return f"/courses/teach/{course.organization.slug}/{course.slug}/"


def test_the_settings_page_refuses_anything_but_exact_pins_line_by_line(world) -> None:
    client = logged_in(world.instructor)
    response = client.post(
        _course_page(world.course) + "environment",
        {"requirements": "tabulate==0.9.0\nnumpy>=2\ntabulate==0.8.10\n"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Line 2: “numpy&gt;=2” is not an exact pin: write name==version" in html
    assert "Line 3: “tabulate==0.8.10” names a package pinned above." in html
    world.course.refresh_from_db()
    assert world.course.environment is None and world.course.requirements == ""


def test_courses_with_the_same_set_share_one_environment_and_one_build(
    world, sent, django_capture_on_commit_callbacks
) -> None:
    client = logged_in(world.instructor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _course_page(world.course) + "environment", {"requirements": "Ost_Hello == 1.0\n"}
        )
    assert response.status_code == 302
    other = EnrollmentFactory(cohort__course__organization=world.course.organization).cohort.course

    with django_capture_on_commit_callbacks(execute=True):
        environment = environment_request(course=other, requirements="ost-hello==1.0")

    world.course.refresh_from_db()
    assert world.course.environment == environment and world.course.requirements == (
        "ost-hello==1.0"
    )
    assert CourseEnvironment.objects.count() == 1
    assert sent == [(queues.BUILD_ENVIRONMENT, (environment.pk,))]


def test_a_course_cannot_be_published_before_its_environment_is_ready(world) -> None:
    environment_request(course=world.course, requirements="ost-hello==1.0")
    client = logged_in(world.instructor)

    response = client.post(_course_page(world.course) + "publish", {"published": "1"}, follow=True)

    world.course.refresh_from_db()
    assert not world.course.published
    assert "The course&#x27;s packages are not ready (Waiting to be built)" in (
        response.content.decode()
    )


def test_a_refused_set_shows_pips_message_and_saving_it_again_retries(
    world,
    sent,
    settings,
    package_index: str,
    course_runtimes: Path,
    django_capture_on_commit_callbacks,
) -> None:
    settings.COURSE_PACKAGE_INDEX_URL = package_index
    with django_capture_on_commit_callbacks(execute=True):
        environment = environment_request(course=world.course, requirements="ost-hello==9.9")

    environment_build(environment_id=environment.pk)

    state = logged_in(world.ta).get(_course_page(world.course) + "environment/status").json()
    assert state["status"] == "refused" and not state["busy"]
    assert "No matching distribution found for ost-hello==9.9" in state["message"]
    with django_capture_on_commit_callbacks(execute=True):
        environment_request(course=world.course, requirements="ost-hello==9.9")
    assert CourseEnvironment.objects.get().status == EnvironmentStatus.QUEUED
    assert [name for name, _ in sent] == [queues.BUILD_ENVIRONMENT] * 2


def greeting_exercise() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "### BEGIN SOLUTION\nimport ost_hello\n\ndef greet():\n    return ost_hello.GREETING\n"
            "### END SOLUTION\n",
            metadata=_meta("greet", solution=True),
        ),
        nbformat.v4.new_code_cell(
            f"assert greet() == {GREETING!r}",
            metadata=_meta("test_greet", grade=True, points=2, locked=True),
        ),
    ]
    return dict(nb)


def _submit(course):
    enrollment = EnrollmentFactory(cohort__course=course)
    module = ModuleFactory(course=course)
    exercise = exercise_create(
        module=module, title="Greet", slug="greet", notebook=as_json(greeting_exercise())
    )
    answer = "import ost_hello\n\ndef greet():\n    return ost_hello.GREETING\n"
    notebook = answered(greeting_exercise(), greet=answer)
    return services.submission_create(learner=enrollment.user, exercise=exercise, notebook=notebook)


@pytest.mark.xdist_group("course-runtime")
def test_a_course_grades_in_its_environment_once_built_and_the_base_course_cannot(
    world,
    sent,
    settings,
    package_index: str,
    course_runtimes: Path,
    django_capture_on_commit_callbacks,
) -> None:
    # given a course pinning a package, and a submission that imports it
    settings.COURSE_PACKAGE_INDEX_URL = package_index
    environment = environment_request(course=world.course, requirements="ost-hello==1.0")
    waiting = _submit(world.course)
    try:
        # when it is graded before the environment is built, it waits
        services.submission_grade(submission_id=waiting.pk)
        assert Submission.objects.get(pk=waiting.pk).status == SubmissionStatus.QUEUED

        # when the environment is built, the waiting submission is sent to grading
        sent.clear()
        with django_capture_on_commit_callbacks(execute=True):
            environment_build(environment_id=environment.pk)
        environment.refresh_from_db()
        assert environment.status == EnvironmentStatus.READY, environment.message
        assert "installing 1: ost-hello==1.0" in environment.progress
        assert sent == [(queues.GRADE_SUBMISSION, (waiting.pk,))]

        # then it is graded in the course's runtime, and the same answer elsewhere is not
        services.submission_grade(submission_id=waiting.pk)
        base = _submit(EnrollmentFactory().cohort.course)
        services.submission_grade(submission_id=base.pk)
    finally:
        kernels.close_pool()
    graded = Submission.objects.get(pk=waiting.pk)
    assert (graded.status, graded.score) == (SubmissionStatus.GRADED, Decimal(2)), graded.result
    assert Submission.objects.get(pk=base.pk).score == Decimal(0)


def test_the_course_folder_carries_the_pins_both_ways(world, sent, tmp_path: Path) -> None:
    environment_request(course=world.course, requirements="tabulate==0.9.0\nost-hello==1.0")
    course_export(course=world.course, destination=tmp_path / "out")
    assert (tmp_path / "out/requirements.txt").read_text() == "ost-hello==1.0\ntabulate==0.9.0\n"

    environment_request(course=world.course, requirements="")
    report = course_import(organization=world.course.organization, path=tmp_path / "out")

    world.course.refresh_from_db()
    assert world.course.requirements == "ost-hello==1.0\ntabulate==0.9.0"
    assert world.course.environment is not None
    assert ("requirements.txt", "updated") in [(f.path, f.outcome) for f in report.files]


def test_a_folder_with_a_faulty_requirements_file_is_refused_whole(world, tmp_path: Path) -> None:
    course_export(course=world.course, destination=tmp_path / "out")
    (tmp_path / "out/requirements.txt").write_text("numpy\nnumpy==2.4.6\n")

    with pytest.raises(CourseFolderInvalid) as invalid:
        course_import(organization=world.course.organization, path=tmp_path / "out")

    assert invalid.value.problems == ["requirements.txt: line 1: 'numpy' is not name==version"]


def test_an_imported_course_is_published_only_once_its_packages_are_ready(
    world, tmp_path: Path
) -> None:
    world.course.published = True
    world.course.save(update_fields=["published"])
    course_export(course=world.course, destination=tmp_path / "out")
    (tmp_path / "out/requirements.txt").write_text("ost-hello==1.0\n")

    report = course_import(organization=world.course.organization, path=tmp_path / "out")

    world.course.refresh_from_db()
    assert not world.course.published
    (outcome,) = [f for f in report.files if f.path == "requirements.txt"]
    assert outcome.messages == ("The course stays unpublished until its packages are ready.",)


def _built(pins: list[str], *, age_days: float) -> Path:
    """A course runtime on disk as a build leaves it, last used `age_days` ago."""
    folder = environment_path(environment_key(pins))
    folder.mkdir(parents=True)
    (folder / ".course-runtime").write_text(json.dumps({"pins": pins}) + "\n")
    then = time.time() - age_days * 86400
    os.utime(folder / ".course-runtime", (then, then))
    os.utime(folder, (then, then))
    return folder


def test_runtimes_no_course_needs_any_more_are_collected_after_the_grace_period(
    world, tmp_path: Path, monkeypatch, settings
) -> None:
    # given: a course that changed its packages, a course deleted, a course unchanged
    monkeypatch.setenv("SANDBOX_COURSE_RUNTIMES", str(tmp_path))
    settings.COURSE_RUNTIME_GRACE_S = 7 * 86400
    other = EnrollmentFactory(cohort__course__organization=world.course.organization).cohort.course
    gone = EnrollmentFactory(cohort__course__organization=world.course.organization).cohort.course
    environment_request(course=world.course, requirements="ost-hello==1.0")
    environment_request(course=other, requirements="ost-beta==1.0")
    environment_request(course=gone, requirements="ost-alpha==1.0")
    current = _built(["ost-hello==1.0"], age_days=30)
    changed = _built(["ost-beta==1.0"], age_days=30)
    deleted = _built(["ost-alpha==1.0"], age_days=30)
    environment_request(course=other, requirements="ost-beta==2.0")
    gone.delete()

    # when
    out = io.StringIO()
    call_command("collect_course_runtimes", stdout=out)

    # then
    assert current.is_dir() and not changed.exists() and not deleted.exists()
    assert out.getvalue().startswith("Removed 2 course runtime(s)")


def test_the_beat_task_keeps_a_runtime_used_within_the_grace_period(
    world, tmp_path: Path, monkeypatch, settings
) -> None:
    monkeypatch.setenv("SANDBOX_COURSE_RUNTIMES", str(tmp_path))
    settings.COURSE_RUNTIME_GRACE_S = 7 * 86400
    unused = _built(["ost-beta==1.0"], age_days=6)

    assert collect_environments_task() == {"removed": [], "freed_bytes": 0}
    collected = environments_collect(now=time.time() + 2 * 86400)

    assert collected.removed == [unused.name] and not unused.exists()
