"""The course's grade rule: the gradebook keeps the best or the last graded attempt, and
instructors choose the rule in the course settings (English and French)."""

from decimal import Decimal

import pytest

from courses.grading.gradebook import cohort_gradebook, kept_submission
from courses.learn.selectors import exercise_statuses
from courses.models import GradeRule, SubmissionStatus
from tests.support.world import World, graded_submission, logged_in, teach_url

pytestmark = pytest.mark.django_db


def attempts(world: World, *scores: str) -> None:
    for number, score in enumerate(scores, start=2):
        graded_submission(
            exercise=world.exercise,
            learner=world.student,
            cohort=world.cohort,
            score=Decimal(score),
            attempt=number,
        )


def kept_score(world: World) -> Decimal | None:
    world.cohort.course.refresh_from_db()
    (row,) = cohort_gradebook(cohort=world.cohort).rows
    (cell,) = row.cells
    assert cell is not None
    assert cell.attempts == 3
    return cell.score


def test_the_gradebook_keeps_the_best_attempt_by_default(world: World) -> None:
    # world.submission (attempt 1) scored 3
    attempts(world, "4.5", "1")
    assert world.course.grade_rule == GradeRule.BEST
    assert kept_score(world) == Decimal("4.5")


def test_the_gradebook_keeps_the_last_graded_attempt_under_the_last_rule(world: World) -> None:
    attempts(world, "4.5", "1")
    world.course.grade_rule = GradeRule.LAST
    world.course.save(update_fields=["grade_rule"])
    assert kept_score(world) == Decimal(1)


def test_an_attempt_still_being_graded_does_not_replace_the_last_graded_one(
    world: World,
) -> None:
    attempts(world, "2")
    graded_submission(
        exercise=world.exercise,
        learner=world.student,
        cohort=world.cohort,
        status=SubmissionStatus.QUEUED,
        score=None,
        attempt=4,
    )
    cell = kept_submission(
        cohort_id=world.cohort.pk,
        learner_id=world.student.pk,
        exercise_id=world.exercise.pk,
        rule=GradeRule.LAST,
    )
    assert cell is not None
    assert (cell.score, cell.attempts) == (Decimal(2), 3)


def test_the_instructor_chooses_the_rule_in_the_course_settings(world: World) -> None:
    # given
    client = logged_in(world.instructor)
    page = client.get(teach_url(world)).content.decode()
    assert "Grade that counts" in page
    assert 'value="best" selected' in page
    # when
    response = client.post(
        teach_url(world),
        {
            "title": world.course.title,
            "summary": "",
            "language": "en",
            "grade_rule": GradeRule.LAST,
        },
    )
    # then
    assert response.status_code == 302
    world.course.refresh_from_db()
    assert world.course.grade_rule == GradeRule.LAST
    assert 'value="last" selected' in client.get(teach_url(world)).content.decode()


def test_the_rule_is_offered_in_french(world: World) -> None:
    client = logged_in(world.instructor)
    client.post("/i18n/setlang/", {"language": "fr"})
    page = client.get(teach_url(world)).content.decode()
    assert "Note retenue" in page
    assert "La meilleure tentative notée" in page
    assert "La dernière tentative notée" in page


def test_a_ta_cannot_change_the_rule(world: World) -> None:
    client = logged_in(world.ta)
    response = client.post(
        teach_url(world),
        {"title": "x", "summary": "", "language": "en", "grade_rule": GradeRule.LAST},
    )
    assert response.status_code == 403
    world.course.refresh_from_db()
    assert world.course.grade_rule == GradeRule.BEST


@pytest.mark.parametrize(("rule", "shown"), [(GradeRule.BEST, Decimal("4.5")), (GradeRule.LAST, 1)])
def test_the_learner_sees_the_grade_that_counts(world: World, rule: str, shown: Decimal) -> None:
    attempts(world, "4.5", "1")
    world.course.grade_rule = rule
    world.course.save(update_fields=["grade_rule"])
    status = exercise_statuses(learner=world.student, exercise_ids=[world.exercise.pk])
    assert (status[world.exercise.pk].state, status[world.exercise.pk].score) == ("graded", shown)
