"""Authoring courses: modules, lessons, order, publishing, preview, the outline pages."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.catalog import services as content
from courses.catalog.selectors import course_outline
from courses.catalog.services import AuthoringError
from courses.models import Course, EnrollmentRole, Lesson
from tests.support.factories import ExerciseFactory, LessonFactory, MembershipFactory, ModuleFactory
from tests.support.world import World, logged_in, outline_keys, teach_url

pytestmark = pytest.mark.django_db


def test_items_are_reordered_by_a_full_list_or_moved_one_step(world: World) -> None:
    second = content.lesson_create(module=world.module, title="Second")
    start = outline_keys(world.module)
    assert start == [
        f"lesson-{world.lesson.pk}",
        f"exercise-{world.exercise.pk}",
        f"lesson-{second.pk}",
    ]
    content.items_reorder(module=world.module, keys=list(reversed(start)))
    assert outline_keys(world.module) == list(reversed(start))
    content.item_move(module=world.module, key=f"lesson-{second.pk}", offset=1)
    assert outline_keys(world.module)[1] == f"lesson-{second.pk}"


def test_it_rejects_an_order_that_leaves_an_item_out(world: World) -> None:
    with pytest.raises(AuthoringError):
        content.items_reorder(module=world.module, keys=[f"lesson-{world.lesson.pk}"])


def test_the_keyboard_move_buttons_and_drag_and_drop_reorder_items(world: World) -> None:
    client = logged_in(world.instructor)
    url = f"{teach_url(world)}modules/{world.module.pk}/order"
    response = client.post(url, {"key": f"lesson-{world.lesson.pk}", "direction": "down"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#item-lesson-{world.lesson.pk}")
    assert outline_keys(world.module)[-1] == f"lesson-{world.lesson.pk}"
    keys = [f"lesson-{world.lesson.pk}", f"exercise-{world.exercise.pk}"]
    response = client.post(url, json.dumps({"keys": keys}), content_type="application/json")
    assert response.json() == {"ok": True}
    assert outline_keys(world.module) == keys


def test_modules_move_up_and_down(world: World) -> None:
    later = content.module_create(course=world.course, title="Later")
    content.module_move(module=later, offset=-1)
    assert [e.module.title for e in course_outline(course=world.course)] == ["Later", "Basics"]


def test_a_module_with_submissions_is_not_deleted(world: World) -> None:
    with pytest.raises(AuthoringError):
        content.module_delete(module=world.module)


def test_an_instructor_creates_a_course_and_teaches_it() -> None:
    membership = MembershipFactory(role="instructor")
    client = logged_in(membership.user)
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
    response = logged_in(membership.user).post(
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
    client = logged_in(world.instructor)
    client.post(f"{teach_url(world)}publish", {"published": "1"})
    world.course.refresh_from_db()
    assert world.course.published
    client.post(f"{teach_url(world)}publish", {"published": "0"})
    world.course.refresh_from_db()
    assert not world.course.published


def test_a_lesson_is_edited_and_its_preview_is_rendered_by_the_server(world: World) -> None:
    client = logged_in(world.instructor)
    url = f"{teach_url(world)}lessons/{world.lesson.pk}/"
    client.post(url, {"title": "Hello", "body": "# Title\n\n$a^2$"})
    world.lesson.refresh_from_db()
    assert (world.lesson.title, world.lesson.body) == ("Hello", "# Title\n\n$a^2$")
    preview = client.post(
        f"{teach_url(world)}markdown-preview", {"body": "**bold** <script>alert(1)</script> $x$"}
    )
    html = preview.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert 'class="math' in html


def test_the_outline_editor_runs_a_fixed_number_of_queries(world: World) -> None:
    client = logged_in(world.instructor)
    url = teach_url(world)

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
        logged_in(world.instructor)
        .get(f"{teach_url(world)}exercises/{world.exercise.pk}/preview")
        .content.decode()
    )
    assert "add" in html
    assert "BEGIN SOLUTION" not in html
    assert "add(-5, 5)" not in html  # the hidden test


def test_lessons_are_created_in_a_module(world: World) -> None:
    logged_in(world.instructor).post(
        f"{teach_url(world)}modules/{world.module.pk}/lessons/new",
        {"title": "Vectors", "body": "v"},
    )
    assert Lesson.objects.get(title="Vectors").slug == "vectors"


def test_the_learners_outline_page_runs_a_fixed_number_of_queries(world: World) -> None:
    world.course.published = True
    world.course.save(update_fields=["published"])
    client = logged_in(world.student)
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
