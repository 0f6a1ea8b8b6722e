"""Grade passback (AGS) to the emulated LMS: the score that counts reaches the learner's own
row of the LMS column, once per decision; failures are retried, visible, and resent."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from courses import queues
from courses.models import GradeKind, GradeRecord, Submission
from lti import grades, tasks
from lti import queues as lti_queues
from lti.models import PlatformAccount, ScorePost, ScoreStatus
from tests.lti.conftest import Campus, launch
from tests.support.factories import CohortFactory, EnrollmentFactory
from tests.support.lti_platform import INSTRUCTOR, Platform
from tests.support.world import graded_submission

pytestmark = pytest.mark.django_db


def grade(campus: Campus, sub: str, score: str = "4", pending: float = 0.0) -> Submission:
    learner = PlatformAccount.objects.get(sub=sub).user
    cohort = learner.enrollments.get().cohort
    submission = graded_submission(
        exercise=campus.exercise,
        learner=learner,
        cohort=cohort,
        score=Decimal(score),
        max_score=Decimal(5),
    )
    submission.result["pending_points"] = pending
    submission.save(update_fields=["result"])
    record(submission)
    return submission


def record(submission: Submission) -> GradeRecord:
    return GradeRecord.objects.create(
        submission=submission,
        kind=GradeKind.AUTO,
        score=submission.score,
        raw_score=submission.score,
        max_score=submission.max_score,
        result=submission.result,
    )


def send_all(ids: list[int]) -> None:
    for pk in ids:
        tasks.score_send.apply(args=[pk])


def lms_scores(platform: Platform) -> list[dict]:
    return [s for scores in platform.scores.values() for s in scores]


@pytest.fixture
def learners(platform: Platform, campus: Campus, client: Client) -> None:
    launch(platform, client, user_id="learner-1", target=campus.exercise_url())
    launch(platform, Client(), user_id="learner-2", target=campus.exercise_url())


def test_a_graded_submission_reaches_the_lms_gradebook(
    platform: Platform, campus: Campus, learners: None
) -> None:
    # given
    submission = grade(campus, "learner-1", score="4")
    # when
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    # then
    (score,) = lms_scores(platform)
    assert score["userId"] == "learner-1"
    assert (score["scoreGiven"], score["scoreMaximum"]) == (4.0, 5.0)
    assert score["gradingProgress"] == "FullyGraded"
    post = ScorePost.objects.get()
    assert post.status == ScoreStatus.SENT
    assert post.sent_at is not None


def test_a_grade_asks_for_a_scores_sync_only_where_an_lms_column_takes_it(
    platform: Platform,
    campus: Campus,
    learners: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    # given: a learner of the LMS course, and one of a cohort that no LMS is linked to
    outside = EnrollmentFactory(cohort=CohortFactory(course=campus.course))
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(queues, "send", lambda name, *args, **_: sent.append((name, args)))
    # when both are graded
    with django_capture_on_commit_callbacks(execute=True):
        linked = grade(campus, "learner-1")
        unlinked = graded_submission(
            exercise=campus.exercise, learner=outside.user, cohort=outside.cohort
        )
        record(unlinked)
    # then a task syncs the linked learner's scores, and nothing is sent for the other
    assert sent == [(lti_queues.SCORES_SYNC_SUBMISSION, (linked.pk,))]


def test_the_same_grade_is_sent_once_and_a_regrade_again(
    platform: Platform, campus: Campus, learners: None
) -> None:
    submission = grade(campus, "learner-1", score="4")
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    # the same decision again: nothing to send
    assert grades.scores_record_for_submission(submission_id=submission.pk) == []
    # a regrade: a new decision, sent with a later timestamp
    Submission.objects.filter(pk=submission.pk).update(score=Decimal(5))
    regrade = record(Submission.objects.get(pk=submission.pk))
    GradeRecord.objects.filter(pk=regrade.pk).update(
        created_at=timezone.now() + timedelta(seconds=5)
    )
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    first, second = lms_scores(platform)
    assert (first["scoreGiven"], second["scoreGiven"]) == (4.0, 5.0)
    assert second["timestamp"] > first["timestamp"]


def test_work_waiting_for_a_person_is_sent_as_pending_manual(
    platform: Platform, campus: Campus, learners: None
) -> None:
    submission = grade(campus, "learner-1", score="3", pending=2.0)
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    assert lms_scores(platform)[0]["gradingProgress"] == "PendingManual"


def test_a_score_goes_to_its_own_learner_only(
    platform: Platform, campus: Campus, learners: None
) -> None:
    """No submission of one learner ever posts a score under another learner's LMS id, and
    someone without an LMS account in the LMS cohort posts nothing."""
    # given: a learner enrolled in the LMS cohort by other means
    cohort = PlatformAccount.objects.get(sub="learner-1").user.enrollments.get().cohort
    outsider = EnrollmentFactory.create(cohort=cohort).user
    theirs = graded_submission(exercise=campus.exercise, learner=outsider, cohort=cohort)
    record(theirs)
    mine = grade(campus, "learner-2", score="2")
    # when
    send_all(grades.scores_record_for_submission(submission_id=theirs.pk))
    send_all(grades.scores_record_for_submission(submission_id=mine.pk))
    # then
    assert [(s["userId"], s["scoreGiven"]) for s in lms_scores(platform)] == [("learner-2", 2.0)]


def test_the_lms_refusing_a_score_for_someone_else_fails_at_once(
    platform: Platform, campus: Campus, learners: None
) -> None:
    # given: the LMS no longer has this learner in the course
    platform.courses["ctx-1"].members.pop("learner-1")
    submission = grade(campus, "learner-1")
    # when
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    # then
    post = ScorePost.objects.get()
    assert post.status == ScoreStatus.FAILED
    assert "422" in post.error
    assert post.attempts == 1


def test_an_lms_outage_is_retried_then_failed_then_resent_by_the_beat_job(
    platform: Platform, campus: Campus, learners: None
) -> None:
    # given: the LMS is down for every try of the task
    platform.fail_scores = [503] * (tasks.SEND_RETRIES + 1)
    submission = grade(campus, "learner-1")
    # when
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    # then
    post = ScorePost.objects.get()
    assert post.status == ScoreStatus.FAILED
    assert "503" in post.error
    assert post.attempts == tasks.SEND_RETRIES + 1
    assert lms_scores(platform) == []
    # when: the LMS is back and the beat job runs
    later = timezone.now() + timedelta(hours=1)
    send_all(grades.scores_retry_failed(older_than=timedelta(minutes=15), now=later))
    # then
    assert ScorePost.objects.get().status == ScoreStatus.SENT
    assert len(lms_scores(platform)) == 1


def test_a_revoked_registration_sends_nothing(
    platform: Platform, campus: Campus, learners: None
) -> None:
    submission = grade(campus, "learner-1")
    campus.registration.active = False
    campus.registration.save(update_fields=["active"])
    send_all(grades.scores_record_for_submission(submission_id=submission.pk))
    assert ScorePost.objects.get().status == ScoreStatus.FAILED
    assert lms_scores(platform) == []


def test_the_instructor_sees_each_learners_lms_score_and_resends_a_failure(
    platform: Platform, campus: Campus, learners: None
) -> None:
    # given
    platform.courses["ctx-1"].members.pop("learner-1")
    send_all(grades.scores_record_for_submission(submission_id=grade(campus, "learner-1").pk))
    teacher = Client()
    launch(platform, teacher, user_id="teacher", roles=INSTRUCTOR, target=campus.exercise_url())
    url = f"/lti/teach/{campus.organization.slug}/{campus.course.slug}/scores/"
    # when
    page = teacher.get(url)
    # then
    assert page.status_code == 200
    assert "failed: " in page.content.decode()
    assert "422" in page.content.decode()
    post = ScorePost.objects.get()
    teacher.post(f"{url}{post.pk}/resend/")
    post.refresh_from_db()
    assert (post.status, post.attempts, post.error) == (ScoreStatus.PENDING, 0, "")


def test_a_learner_cannot_see_the_lms_scores(
    platform: Platform, campus: Campus, learners: None
) -> None:
    learner = Client()
    launch(platform, learner, user_id="learner-1", target=campus.exercise_url())
    url = f"/lti/teach/{campus.organization.slug}/{campus.course.slug}/scores/"
    assert learner.get(url).status_code in (403, 404)
