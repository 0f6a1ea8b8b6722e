"""Validating an exercise grades both versions in real sandboxed kernels."""

import nbformat
import pytest
from django.test import Client
from django.utils import timezone

from courses.assignment import parse_exercise
from courses.grading import kernels
from courses.grading.validation import (
    answerable,
    exercise_validate,
    validation_request,
    validation_run,
)
from courses.models import Exercise, ExerciseValidation
from sandbox import KernelPool
from tests.support.exercises import add_exercise, as_json
from tests.support.world import make_world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pool():
    with KernelPool(size=1, limits=kernels.grading_limits()) as pool:
        yield pool


def _validate(pool, notebook: dict) -> dict:
    exercise = Exercise(source=as_json(notebook))
    return exercise_validate(
        exercise=exercise, kernel_factory=lambda: pool.acquire(), limits=kernels.grading_limits()
    )


def test_a_sound_exercise_is_valid_and_each_test_outcome_is_reported(pool) -> None:
    report = _validate(pool, add_exercise())
    assert report["ok"] and report["problems"] == []
    assert [(t["grade_id"], t["status"]) for t in report["reference"]["tests"]] == [
        ("test_add", "passed"),
        ("test_add_hidden", "passed"),
    ]
    assert [(t["grade_id"], t["status"]) for t in report["student"]["tests"]] == [
        ("test_add", "failed"),
        ("test_add_hidden", "failed"),
    ]


def test_a_wrong_reference_solution_is_caught(pool) -> None:
    notebook = add_exercise()
    notebook["cells"][1]["source"] = notebook["cells"][1]["source"].replace("a + b", "a - b")
    report = _validate(pool, notebook)
    assert report["problems"] == ["reference_not_full"]


def test_tests_that_pass_without_an_answer_are_caught(pool) -> None:
    notebook = add_exercise()
    for cell in notebook["cells"][2:]:
        cell["source"] = "assert True"
    report = _validate(pool, notebook)
    assert report["problems"] == ["student_passes"]


def test_the_worker_side_saves_the_validation_and_the_page_shows_it() -> None:
    world = make_world()
    validation_request(exercise=world.exercise, requested_by=world.instructor)
    try:
        validation_run(exercise_id=world.exercise.pk, requested_by_id=world.instructor.pk)
    finally:
        kernels.close_pool()
    validation = ExerciseValidation.objects.get(exercise=world.exercise)
    assert (validation.status, validation.ok) == ("done", True), validation.report
    client = Client()
    client.force_login(world.instructor)
    html = client.get(
        f"/courses/teach/{world.course.organization.slug}/{world.course.slug}/"
        f"exercises/{world.exercise.pk}/"
    ).content.decode()
    assert "Valid: the reference solution earns every autograded point" in html
    assert "<code>test_add_hidden</code>" in html


def test_validation_says_what_a_learner_can_and_cannot_answer_on_the_page() -> None:
    # given an exercise with a code answer, a written answer and a task
    notebook = add_exercise()
    written = {"grade_id": "explain", "solution": True, "grade": True, "points": 2}
    task = {"grade_id": "plot_it", "task": True, "points": 3, "locked": True}
    for source, meta in (("YOUR ANSWER HERE", written), ("Plot the sum.", task)):
        notebook["cells"].append(
            nbformat.v4.new_markdown_cell(
                source, metadata={"nbgrader": {**meta, "schema_version": 3}}
            )
        )
    # when its answers are listed
    answers = answerable(parse_exercise(data=as_json(notebook)))
    # then each can be answered: the task in cells the learner adds under it
    assert [(a["grade_id"], a["kind"], a["answerable"]) for a in answers] == [
        ("add", "code", True),
        ("explain", "written", True),
        ("plot_it", "task", True),
    ]


def test_the_validation_page_says_a_task_is_answered_in_added_cells() -> None:
    # given a validated exercise whose task has points
    world = make_world()
    notebook = add_exercise()
    task = {"grade_id": "plot_it", "task": True, "points": 3, "locked": True}
    notebook["cells"].append(
        nbformat.v4.new_markdown_cell(
            "Plot the sum.", metadata={"nbgrader": {**task, "schema_version": 3}}
        )
    )
    answers = answerable(parse_exercise(data=as_json(notebook)))
    ExerciseValidation.objects.create(
        exercise=world.exercise,
        status="done",
        ok=True,
        report={"ok": True, "problems": [], "answers": answers},
        requested_at=timezone.now(),
    )
    # when the instructor reads it
    client = Client()
    client.force_login(world.instructor)
    html = client.get(
        f"/courses/teach/{world.course.organization.slug}/{world.course.slug}/"
        f"exercises/{world.exercise.pk}/"
    ).content.decode()
    # then the task can be answered, in cells the learner adds, graded by a person
    assert "can be answered: in cells the learner adds under it" in html
    assert "task (answered in cells the learner adds), graded by a person" in html
    assert "cannot be answered" not in html
