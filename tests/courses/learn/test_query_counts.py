"""The learner's pages cost a fixed number of queries, however much the course holds (no
N+1): a class clicking through them at once must not multiply the database's work."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from courses.exercises.services import exercise_create
from courses.models import Submission, SubmissionStatus
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import (
    CohortFactory,
    EnrollmentFactory,
    LessonFactory,
    ModuleFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _course_with(learner, *, modules: int, submissions: int):
    cohort = CohortFactory(course__published=True)
    EnrollmentFactory(cohort=cohort, user=learner)
    course = cohort.course
    for index in range(modules):
        module = ModuleFactory(course=course)
        LessonFactory(module=module, slug=f"lesson-{course.pk}-{index}")
        exercise = exercise_create(
            module=module, title="Add", slug=f"add-{index}", notebook=as_json(add_exercise())
        )
        for _ in range(submissions):
            Submission.objects.create(
                exercise=exercise, learner=learner, cohort=cohort, status=SubmissionStatus.GRADED
            )
    return course


def test_my_courses_outline_lesson_and_exercise_pages_do_not_grow_with_the_course() -> None:
    # given: one learner in a small course and in a course four times its size
    learner = UserFactory()
    client = Client()
    client.force_login(learner)
    small = _course_with(learner, modules=1, submissions=1)
    big = _course_with(learner, modules=4, submissions=6)

    def pages(course):
        base = f"/courses/{course.organization.slug}/{course.slug}/"
        return [
            base,
            f"{base}lessons/lesson-{course.pk}-0/",
            f"{base}exercises/add-0/",
        ]

    # when / then: the same queries for each page of both
    client.get("/courses/")  # the session's first read is not the page's
    for small_url, big_url in zip(pages(small), pages(big), strict=True):
        assert _queries(client, big_url) == _queries(client, small_url), big_url
    # one course more on My courses costs nothing either
    before = _queries(client, "/courses/")
    _course_with(learner, modules=2, submissions=2)
    assert _queries(client, "/courses/") == before


def test_each_page_of_a_class_clicking_through_costs_a_known_number_of_queries(
    django_assert_num_queries,
) -> None:
    # given: a learner with a graded submission, a session already read once
    learner = UserFactory()
    client = Client()
    client.force_login(learner)
    course = _course_with(learner, modules=2, submissions=2)
    submission = Submission.objects.filter(learner=learner).first()
    base = f"/courses/{course.organization.slug}/{course.slug}/"
    client.get("/courses/")
    # when / then: session and user (2), then each page's own reads
    for url, queries in [
        ("/courses/", 7),  # enrollments, exercises, submissions, drafts, nav
        (base, 11),  # course, admin?, enrollments, modules, lessons, exercises, statuses, nav
        (f"{base}lessons/lesson-{course.pk}-0/", 7),  # course, admin?, enrollments, lesson, nav
        # course, admin?, enrollments, exercise, draft, extension, cohort settings (once),
        # history (attempts used are counted from it; the course pins no environment), nav
        (f"{base}exercises/add-0/", 11),
        (f"/courses/submissions/{submission.pk}/", 3),  # the submission
    ]:
        with django_assert_num_queries(queries):
            assert client.get(url).status_code == 200


def test_the_outline_runs_a_fixed_number_of_queries(setup, django_assert_max_num_queries) -> None:
    enrollment, exercise, _, client = setup
    for n in range(5):
        exercise_create(
            module=exercise.module, title=f"E{n}", slug=f"e{n}", notebook=as_json(add_exercise())
        )
    course = enrollment.cohort.course
    with django_assert_max_num_queries(12):
        client.get(f"/courses/{course.organization.slug}/{course.slug}/")


def test_a_submit_costs_a_known_number_of_queries(django_assert_num_queries) -> None:
    # given: a learner on the exercise page of a course that pins no environment
    learner = UserFactory()
    client = Client()
    client.force_login(learner)
    course = _course_with(learner, modules=1, submissions=2)
    url = f"/courses/{course.organization.slug}/{course.slug}/exercises/add-0/submit"
    notebook = as_json(add_exercise())
    # when / then: session and user (2); course, admin?, enrollments, exercise, cohort
    # settings, extension, CPU quota (7); the attempt counted and the submission added (2) in
    # one transaction (a savepoint and its release here, inside the test's), which takes the
    # learner's row lock first on PostgreSQL (1; SQLite's write lock needs no query). No
    # query for the environment: the course pins none.
    with django_assert_num_queries(13 if connection.vendor == "sqlite" else 14):
        assert client.post(url, notebook, content_type="application/json").status_code == 202
