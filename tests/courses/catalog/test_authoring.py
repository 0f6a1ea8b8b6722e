"""Authoring services and pages: courses, modules, lessons, order, publish, upload."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses import services
from courses.authoring import content
from courses.authoring.content import AuthoringError
from courses.authoring.exercises import ExerciseSettings, cohort_exercise_set, extension_grant
from courses.models import Course, EnrollmentRole, Exercise, LatePolicy, Lesson
from courses.selectors import course_outline
from tests.courses.exercises import add_exercise, answered, as_json
from tests.courses.teach_world import World, make_world
from tests.factories import (
    ExerciseFactory,
    LessonFactory,
    MembershipFactory,
    ModuleFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return make_world()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _base(w: World) -> str:
    return f"/courses/teach/{w.course.organization.slug}/{w.course.slug}/"


def _keys(module) -> list[str]:
    (entry,) = [e for e in course_outline(course=module.course) if e.module == module]
    return [f"{i.kind}-{(i.lesson or i.exercise).pk}" for i in entry.items]


def test_items_are_reordered_by_a_full_list_or_moved_one_step(world: World) -> None:
    second = content.lesson_create(module=world.module, title="Second")
    start = _keys(world.module)
    assert start == [
        f"lesson-{world.lesson.pk}",
        f"exercise-{world.exercise.pk}",
        f"lesson-{second.pk}",
    ]
    content.items_reorder(module=world.module, keys=list(reversed(start)))
    assert _keys(world.module) == list(reversed(start))
    content.item_move(module=world.module, key=f"lesson-{second.pk}", offset=1)
    assert _keys(world.module)[1] == f"lesson-{second.pk}"


def test_it_rejects_an_order_that_leaves_an_item_out(world: World) -> None:
    with pytest.raises(AuthoringError):
        content.items_reorder(module=world.module, keys=[f"lesson-{world.lesson.pk}"])


def test_the_keyboard_move_buttons_and_drag_and_drop_reorder_items(world: World) -> None:
    client = _client(world.instructor)
    url = f"{_base(world)}modules/{world.module.pk}/order"
    response = client.post(url, {"key": f"lesson-{world.lesson.pk}", "direction": "down"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#item-lesson-{world.lesson.pk}")
    assert _keys(world.module)[-1] == f"lesson-{world.lesson.pk}"
    keys = [f"lesson-{world.lesson.pk}", f"exercise-{world.exercise.pk}"]
    response = client.post(url, json.dumps({"keys": keys}), content_type="application/json")
    assert response.json() == {"ok": True}
    assert _keys(world.module) == keys


def test_modules_move_up_and_down(world: World) -> None:
    later = content.module_create(course=world.course, title="Later")
    content.module_move(module=later, offset=-1)
    assert [e.module.title for e in course_outline(course=world.course)] == ["Later", "Basics"]


def test_a_module_with_submissions_is_not_deleted(world: World) -> None:
    with pytest.raises(AuthoringError):
        content.module_delete(module=world.module)


def test_an_instructor_creates_a_course_and_teaches_it() -> None:
    membership = MembershipFactory(role="instructor")
    client = _client(membership.user)
    response = client.post(
        "/courses/teach/new",
        {
            "organization": membership.organization.slug,
            "title": "Climate data",
            "summary": "",
            "language": "fr",
        },
    )
    course = Course.objects.get(title="Climate data")
    assert response["Location"] == f"/courses/teach/{course.organization.slug}/climate-data/"
    assert course.cohorts.get().enrollments.get().role == EnrollmentRole.INSTRUCTOR
    assert client.get(response["Location"]).status_code == 200


def test_a_student_member_cannot_create_a_course() -> None:
    membership = MembershipFactory(role="student")
    response = _client(membership.user).post(
        "/courses/teach/new",
        {
            "organization": membership.organization.slug,
            "title": "X",
            "language": "en",
        },
    )
    assert response.status_code == 400
    assert not Course.objects.exists()


def test_publish_and_unpublish(world: World) -> None:
    client = _client(world.instructor)
    client.post(f"{_base(world)}publish", {"published": "1"})
    world.course.refresh_from_db()
    assert world.course.published
    client.post(f"{_base(world)}publish", {"published": "0"})
    world.course.refresh_from_db()
    assert not world.course.published


def test_a_lesson_is_edited_and_its_preview_is_rendered_by_the_server(world: World) -> None:
    client = _client(world.instructor)
    url = f"{_base(world)}lessons/{world.lesson.pk}/"
    client.post(url, {"title": "Hello", "body": "# Title\n\n$a^2$"})
    world.lesson.refresh_from_db()
    assert (world.lesson.title, world.lesson.body) == ("Hello", "# Title\n\n$a^2$")
    preview = client.post(
        f"{_base(world)}markdown-preview", {"body": "**bold** <script>alert(1)</script> $x$"}
    )
    html = preview.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert 'class="math' in html


def test_an_invalid_notebook_upload_lists_its_problems_by_cell(world: World) -> None:
    notebook = as_json(add_exercise())
    notebook["cells"][1]["source"] = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n"
    upload = SimpleUploadedFile("bad.ipynb", json.dumps(notebook).encode())
    response = _client(world.instructor).post(
        f"{_base(world)}modules/{world.module.pk}/exercises/new",
        {"title": "Broken", "notebook": upload},
    )
    assert response.status_code == 400
    assert "Cell 2" in response.content.decode()
    assert not Exercise.objects.filter(title="Broken").exists()


def test_a_valid_notebook_upload_creates_the_exercise_last_in_its_module(world: World) -> None:
    upload = SimpleUploadedFile("add.ipynb", json.dumps(as_json(add_exercise())).encode())
    response = _client(world.instructor).post(
        f"{_base(world)}modules/{world.module.pk}/exercises/new",
        {"title": "Add again", "notebook": upload},
    )
    exercise = Exercise.objects.get(title="Add again")
    assert response.status_code == 302
    assert (exercise.slug, exercise.points) == ("add-again", 3)
    assert _keys(world.module)[-1] == f"exercise-{exercise.pk}"


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
    url = f"{_base(world)}exercises/{world.exercise.pk}/cohorts/{world.cohort.pk}"
    prefix = f"cohort-{world.cohort.pk}"
    _client(world.instructor).post(
        url, {f"{prefix}-max_attempts": "4", f"{prefix}-late_policy": ""}
    )
    override = world.exercise.cohort_settings.get()
    assert (override.max_attempts, override.late_policy, override.due_at) == (4, "", None)


def test_the_outline_editor_runs_a_fixed_number_of_queries(world: World) -> None:
    client = _client(world.instructor)
    url = _base(world)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    for _ in range(5):
        module = ModuleFactory(course=world.course)
        LessonFactory.create_batch(3, module=module)
        ExerciseFactory.create_batch(3, module=module)
    assert count() == few


def test_preview_as_a_student_shows_the_student_notebook(world: World) -> None:
    html = (
        _client(world.instructor)
        .get(f"{_base(world)}exercises/{world.exercise.pk}/preview")
        .content.decode()
    )
    assert "add" in html
    assert "BEGIN SOLUTION" not in html
    assert "add(-5, 5)" not in html  # the hidden test


def test_lessons_are_created_in_a_module(world: World) -> None:
    _client(world.instructor).post(
        f"{_base(world)}modules/{world.module.pk}/lessons/new", {"title": "Vectors", "body": "v"}
    )
    assert Lesson.objects.get(title="Vectors").slug == "vectors"


NOTEBOOKS = Path(__file__).parent / "notebooks"


@pytest.mark.parametrize(
    ("name", "fmt"), [("otter_demo.ipynb", "otter"), ("nbgrader_problem1.ipynb", "nbgrader")]
)
def test_otter_and_nbgrader_notebooks_upload_unchanged(world: World, name: str, fmt: str) -> None:
    upload = SimpleUploadedFile(name, (NOTEBOOKS / name).read_bytes())
    response = _client(world.instructor).post(
        f"{_base(world)}modules/{world.module.pk}/exercises/new",
        {"title": name, "notebook": upload},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Exercise.objects.get(title=name).source_format == fmt


def test_a_notebook_with_many_problems_shows_them_all(world: World) -> None:
    name = "nbgrader_many_problems.ipynb"
    upload = SimpleUploadedFile(name, (NOTEBOOKS / name).read_bytes())
    response = _client(world.instructor).post(
        f"{_base(world)}modules/{world.module.pk}/exercises/new",
        {"title": "Many", "notebook": upload},
    )
    assert response.status_code == 400
    assert response.content.decode().count("<li><strong>Cell") >= 2


def test_the_learners_outline_page_runs_a_fixed_number_of_queries(world: World) -> None:
    world.course.published = True
    world.course.save(update_fields=["published"])
    client = _client(world.student)
    url = f"/courses/{world.course.organization.slug}/{world.course.slug}/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    for _ in range(4):
        module = ModuleFactory(course=world.course)
        LessonFactory.create_batch(3, module=module)
        ExerciseFactory.create_batch(2, module=module)
    assert count() == few


def test_a_ta_grants_an_extension_to_a_learner_of_the_course(world: World) -> None:
    url = f"{_base(world)}exercises/{world.exercise.pk}/extensions"
    client = _client(world.ta)
    client.post(url, {"learner": world.student.email.upper(), "due_at": "2030-01-02T10:00"})
    assert world.exercise.extensions.get().learner == world.student
    client.post(url, {"learner": world.other_admin.email, "due_at": "2030-01-02T10:00"})
    assert world.exercise.extensions.count() == 1
