"""Authoring exercises: notebook upload with per-cell problems, settings per course and per
cohort, extensions."""

import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from courses.exercises.services import ExerciseSettings, cohort_exercise_set, extension_grant
from courses.grading import services
from courses.models import Exercise, LatePolicy
from tests.support.exercises import NOTEBOOKS, add_exercise, answered, as_json
from tests.support.world import World, logged_in, outline_keys, teach_url

pytestmark = pytest.mark.django_db


def test_an_invalid_notebook_upload_lists_its_problems_by_cell(world: World) -> None:
    notebook = as_json(add_exercise())
    notebook["cells"][1]["source"] = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n"
    upload = SimpleUploadedFile("bad.ipynb", json.dumps(notebook).encode())
    response = logged_in(world.instructor).post(
        f"{teach_url(world)}modules/{world.module.pk}/exercises/new",
        {"title": "Broken", "notebook": upload},
    )
    assert response.status_code == 400
    assert "Cell 2" in response.content.decode()
    assert not Exercise.objects.filter(title="Broken").exists()


def test_a_valid_notebook_upload_creates_the_exercise_last_in_its_module(world: World) -> None:
    upload = SimpleUploadedFile("add.ipynb", json.dumps(as_json(add_exercise())).encode())
    response = logged_in(world.instructor).post(
        f"{teach_url(world)}modules/{world.module.pk}/exercises/new",
        {"title": "Add again", "notebook": upload},
    )
    exercise = Exercise.objects.get(title="Add again")
    assert response.status_code == 302
    assert (exercise.slug, exercise.points) == ("add-again", 3)
    assert outline_keys(world.module)[-1] == f"exercise-{exercise.pk}"


def test_a_cohort_attempt_limit_and_due_date_override_the_exercise(world: World) -> None:
    # given a cohort allowed one attempt, due yesterday, refusing late work
    yesterday = timezone.now() - timedelta(days=1)
    cohort_exercise_set(
        cohort=world.cohort,
        exercise=world.exercise,
        settings=ExerciseSettings(
            title="",
            due_at=yesterday,
            hard_deadline=None,
            late_policy=LatePolicy.REFUSE,
            late_penalty_percent_per_day=None,
            max_attempts=1,
        ),
    )
    notebook = answered(as_json(add_exercise()), add="def add(a, b):\n    return a + b\n")
    # then the learner is refused
    with pytest.raises(services.SubmissionRefused):
        services.submission_create(
            learner=world.student, exercise=world.exercise, notebook=notebook
        )
    # and an extension lets them submit, until the attempt limit
    extension_grant(
        exercise=world.exercise,
        learner=world.student,
        due_at=timezone.now() + timedelta(days=1),
        reason="",
        granted_by=world.ta,
    )
    with pytest.raises(services.SubmissionRefused, match="1 attempts"):
        services.submission_create(
            learner=world.student, exercise=world.exercise, notebook=notebook
        )


def test_the_cohort_settings_form_saves_an_override(world: World) -> None:
    url = f"{teach_url(world)}exercises/{world.exercise.pk}/cohorts/{world.cohort.pk}"
    prefix = f"cohort-{world.cohort.pk}"
    logged_in(world.instructor).post(
        url, {f"{prefix}-max_attempts": "4", f"{prefix}-late_policy": ""}
    )
    override = world.exercise.cohort_settings.get()
    assert (override.max_attempts, override.late_policy, override.due_at) == (4, "", None)


@pytest.mark.parametrize(
    ("name", "fmt"), [("otter_demo.ipynb", "otter"), ("nbgrader_problem1.ipynb", "nbgrader")]
)
def test_otter_and_nbgrader_notebooks_upload_unchanged(world: World, name: str, fmt: str) -> None:
    upload = SimpleUploadedFile(name, (NOTEBOOKS / name).read_bytes())
    response = logged_in(world.instructor).post(
        f"{teach_url(world)}modules/{world.module.pk}/exercises/new",
        {"title": name, "notebook": upload},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Exercise.objects.get(title=name).source_format == fmt


def test_a_notebook_with_many_problems_shows_them_all(world: World) -> None:
    name = "nbgrader_many_problems.ipynb"
    upload = SimpleUploadedFile(name, (NOTEBOOKS / name).read_bytes())
    response = logged_in(world.instructor).post(
        f"{teach_url(world)}modules/{world.module.pk}/exercises/new",
        {"title": "Many", "notebook": upload},
    )
    assert response.status_code == 400
    assert response.content.decode().count("<li><strong>Cell") >= 2


def test_a_ta_grants_an_extension_to_a_learner_of_the_course(world: World) -> None:
    url = f"{teach_url(world)}exercises/{world.exercise.pk}/extensions"
    client = logged_in(world.ta)
    client.post(url, {"learner": world.student.email.upper(), "due_at": "2030-01-02T10:00"})
    assert world.exercise.extensions.get().learner == world.student
    client.post(url, {"learner": world.other_admin.email, "due_at": "2030-01-02T10:00"})
    assert world.exercise.extensions.count() == 1


def test_every_label_of_the_exercise_page_points_at_its_own_field(world: World) -> None:
    page = logged_in(world.instructor).get(f"{teach_url(world)}exercises/{world.exercise.pk}/")
    ids = re.findall(r'\sid="([^"]+)"', page.content.decode())
    assert [i for i in set(ids) if ids.count(i) > 1] == []
    assert '<label for="extension-due_at">New due date</label>' in page.content.decode()
