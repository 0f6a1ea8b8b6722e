"""The course's grade rule (best or last attempt) decides the score the LMS gradebook gets:
on a new attempt, on a regrade and on a mark by hand that hands the count to another
attempt, and when an instructor changes the rule."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from courses import queues
from courses.catalog.services import course_update
from courses.exercises.services import exercise_create
from courses.grading.marking import manual_grade_set
from courses.models import Course, Exercise, GradeKind, GradeRecord, GradeRule, Submission
from lti import grades, tasks
from lti import queues as lti_queues
from lti.models import PlatformAccount, ScorePost
from tests.lti.conftest import Campus, launch
from tests.lti.test_grades import lms_scores, send_all
from tests.support.exercises import as_json
from tests.support.factories import UserFactory
from tests.support.lti_platform import Platform
from tests.support.world import essay_exercise, graded_submission

pytestmark = pytest.mark.django_db

_CLOCK = [timezone.now()]


def attempt(
    exercise: Exercise, sub: str, score: str, pending: float = 0.0, number: int = 1
) -> Submission:
    """A graded attempt of the LMS learner `sub`, with its grade record."""
    learner = PlatformAccount.objects.get(sub=sub).user
    cohort = learner.enrollments.get(cohort__course=exercise.module.course).cohort
    submission = graded_submission(
        exercise=exercise,
        learner=learner,
        cohort=cohort,
        score=Decimal(score),
        max_score=Decimal(5),
        attempt=number,
    )
    submission.result["pending_points"] = pending
    submission.save(update_fields=["result"])
    grade_record(submission)
    return submission


def grade_record(submission: Submission) -> GradeRecord:
    """A grade, a second after the previous one (an injected clock: records made in the
    same instant would tie)."""
    _CLOCK[0] += timedelta(seconds=1)
    record = GradeRecord.objects.create(
        submission=submission,
        kind=GradeKind.AUTO,
        score=submission.score,
        raw_score=submission.score,
        max_score=submission.max_score,
        result=submission.result,
    )
    GradeRecord.objects.filter(pk=record.pk).update(created_at=_CLOCK[0])
    return record


def regrade(submission: Submission, score: str) -> None:
    Submission.objects.filter(pk=submission.pk).update(score=Decimal(score))
    grade_record(Submission.objects.get(pk=submission.pk))


def sync(submission: Submission) -> None:
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))


def set_rule(course: Course, rule: str) -> None:
    course_update(
        course=course,
        title=course.title,
        summary=course.summary,
        language=course.language,
        grade_rule=rule,
    )


def given(platform: Platform) -> list[float]:
    return [s["scoreGiven"] for s in lms_scores(platform)]


@pytest.fixture
def learner(platform: Platform, campus: Campus, client: Client) -> None:
    launch(platform, client, user_id="learner-1", target=campus.exercise_url())


def test_the_best_attempt_counts_by_default(
    platform: Platform, campus: Campus, learner: None
) -> None:
    assert campus.course.grade_rule == GradeRule.BEST
    sync(attempt(campus.exercise, "learner-1", "4"))
    # a worse second attempt changes nothing in the LMS
    assert (
        grades.scores_record_for_submission(
            submission_id=attempt(campus.exercise, "learner-1", "2", number=2).pk
        )
        == []
    )
    assert given(platform) == [4.0]


def test_under_the_last_rule_the_last_graded_attempt_counts(
    platform: Platform, campus: Campus, learner: None
) -> None:
    # given
    set_rule(campus.course, GradeRule.LAST)
    sync(attempt(campus.exercise, "learner-1", "4"))
    # when: a worse second attempt
    second = attempt(campus.exercise, "learner-1", "2", number=2)
    sync(second)
    # then
    assert given(platform) == [4.0, 2.0]
    assert ScorePost.objects.get().submission_id == second.pk


def test_a_regrade_hands_the_count_back_to_an_earlier_attempt_under_the_best_rule(
    platform: Platform, campus: Campus, learner: None
) -> None:
    # given: the second attempt was the best, and the LMS has it
    first = attempt(campus.exercise, "learner-1", "4")
    sync(first)
    second = attempt(campus.exercise, "learner-1", "5", number=2)
    sync(second)
    # when: a regrade lowers the second attempt below the first
    regrade(second, "2")
    sync(second)
    # then: the first attempt counts again, sent after the score it replaces (an LMS
    # ignores a score older than the one it has)
    assert given(platform) == [4.0, 5.0, 4.0]
    scores = lms_scores(platform)
    assert scores[2]["timestamp"] > scores[1]["timestamp"]
    assert ScorePost.objects.get().submission_id == first.pk


def test_a_regrade_of_an_earlier_attempt_changes_nothing_under_the_last_rule(
    platform: Platform, campus: Campus, learner: None
) -> None:
    set_rule(campus.course, GradeRule.LAST)
    first = attempt(campus.exercise, "learner-1", "1")
    second = attempt(campus.exercise, "learner-1", "3", number=2)
    sync(second)
    regrade(first, "5")
    assert grades.scores_record_for_submission(submission_id=first.pk) == []
    regrade(second, "4")
    sync(second)
    assert given(platform) == [3.0, 4.0]


@pytest.mark.parametrize(
    ("rule", "sent"), [(GradeRule.BEST, [4.0, 5.0]), (GradeRule.LAST, [4.0, 3.0, 5.0])]
)
def test_a_mark_by_hand_decides_which_attempt_counts(
    platform: Platform, campus: Campus, client: Client, rule: str, sent: list[float]
) -> None:
    # given: an exercise with an essay; a first attempt fully graded, a second waiting for
    # a person (3 points so far, the essay's 2 pending)
    essay = exercise_create(
        module=campus.exercise.module,
        title="Essay",
        slug="essay",
        notebook=as_json(essay_exercise()),
        position=3,
    )
    launch(platform, client, target=campus.exercise_url(essay), resource_link_id="link-essay")
    set_rule(campus.course, rule)
    first = attempt(essay, "learner-1", "4")
    sync(first)
    second = attempt(essay, "learner-1", "3", pending=2.0, number=2)
    sync(second)
    # when: a TA gives the essay full marks; the signal sends what changed
    with_manual = manual_grade_set(
        submission=second,
        grade_id="essay",
        points=Decimal(2),
        comment="",
        grader=UserFactory.create(),
    )
    sync(with_manual)
    # then
    assert given(platform) == sent
    last = lms_scores(platform)[-1]
    assert last["gradingProgress"] == "FullyGraded"
    assert ScorePost.objects.get().submission_id == second.pk


def test_changing_the_rule_resends_the_scores_that_change(
    platform: Platform,
    campus: Campus,
    learner: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    # given: the best attempt (4) is in the LMS; the last one scored 2
    sync(attempt(campus.exercise, "learner-1", "4"))
    attempt(campus.exercise, "learner-1", "2", number=2)
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(queues, "send", lambda name, *args, **_: sent.append((name, args)))
    # when: the instructor switches the course to the last attempt
    with django_capture_on_commit_callbacks(execute=True):
        set_rule(campus.course, GradeRule.LAST)
    # then: a task recounts the course, and the LMS gets the last attempt
    assert sent == [(lti_queues.SCORES_SYNC_COURSE, (campus.course.pk,))]
    send_all(tasks.scores_sync_course.apply(args=[campus.course.pk]).get())
    assert given(platform) == [4.0, 2.0]
    # and saving the course again without changing the rule asks for nothing
    with django_capture_on_commit_callbacks(execute=True):
        set_rule(campus.course, GradeRule.LAST)
    assert len(sent) == 1
