"""The course outline and my courses: each exercise's status, each course's progress."""

import pytest

from courses.learn import services

pytestmark = pytest.mark.django_db


def test_the_outline_shows_each_exercises_status_and_my_courses_the_progress(setup, graded) -> None:
    enrollment, exercise, _, client = setup
    course = enrollment.cohort.course
    outline_url = f"/courses/{course.organization.slug}/{course.slug}/"
    assert "Not started" in client.get(outline_url).content.decode()
    services.draft_save(learner=enrollment.user, exercise=exercise, sources={"id:add": "x"})
    assert "Draft" in client.get(outline_url).content.decode()
    graded(enrollment, exercise, score="2")
    graded(enrollment, exercise, score="3")
    assert "Score 3 / 3" in client.get(outline_url).content.decode()
    assert "1 of 1 exercise graded" in client.get("/courses/").content.decode()
