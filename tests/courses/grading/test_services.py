"""The submission lifecycle: what is accepted, claims, history, requeues. The grading
itself (sandbox + trusted runner) is exercised end to end in test_grading_end_to_end.py."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from courses import queues
from courses.cohorts.quotas import QuotaKind, quota_record
from courses.exercises.services import exercise_create
from courses.grading import recovery, services
from courses.grading.scoring import GradeReport, ItemResult
from courses.learn.selectors import student_cells
from courses.models import (
    CohortQuota,
    EnrollmentRole,
    Extension,
    GradeKind,
    LatePolicy,
    Submission,
    SubmissionStatus,
)
from tests.support.exercises import add_exercise, answered, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrollment():
    return EnrollmentFactory()


@pytest.fixture
def exercise(enrollment):
    module = ModuleFactory(course=enrollment.cohort.course)
    return exercise_create(module=module, title="Add", slug="add", notebook=as_json(add_exercise()))


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    """Unit tests call the services directly; the queue is covered by the worker tests."""
    queued: list[int] = []

    def send(name: str, *args: object, **options: object) -> None:
        if name == queues.GRADE_SUBMISSION:
            queued.extend(args)

    monkeypatch.setattr(queues, "send", send)
    return queued


def _submit(enrollment, exercise, **kwargs):
    notebook = answered(add_exercise(), add="def add(a, b):\n    return a + b\n")
    return services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=notebook, **kwargs
    )


def _report(score: float) -> GradeReport:
    item = ItemResult(
        grade_id="test_add",
        points=score,
        max_points=3.0,
        passed=score == 3,
        status="passed",
        message="",
    )
    return GradeReport(score=score, max_score=3.0, pending_points=0.0, tests=(item,))


def test_importing_an_exercise_counts_its_points(exercise) -> None:
    assert exercise.points == Decimal("3.00")
    assert exercise.source_format == "nbgrader"


def test_only_answer_and_added_cells_are_kept_from_a_submission(
    enrollment, exercise, no_queue
) -> None:
    # given a learner who also rewrote a test cell and added a cell of their own
    notebook = answered(
        add_exercise(), add="def add(a, b):\n    return 3\n", test_add="pass  # I edited the test"
    )
    notebook["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "source": "print(1)",
            "outputs": [],
            "execution_count": None,
        }
    )
    # when
    submission = services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=notebook
    )
    # then only the answer and the added cell survive (the added one after an empty place
    # saying which cell it was under), and the task is queued after commit
    cells = submission.notebook["cells"]
    assert [c["metadata"].get("nbgrader", {}).get("grade_id") for c in cells] == [
        "add",
        "test_add_hidden",
        None,
    ]
    assert [c["source"] for c in cells] == ["def add(a, b):\n    return 3\n", "", "print(1)"]
    assert cells[1]["cell_type"] == "raw"
    assert submission.status == SubmissionStatus.QUEUED
    assert submission.attempt == 1


def browser_notebook(exercise) -> dict:
    """What the page's Submit sends (static/js/notebook-submit.js, answerNotebook): answers,
    and an empty placeholder with the grade id of every other graded cell it shows."""
    cells = []
    for cell in student_cells(exercise=exercise):
        if cell.role == "answer":
            source = "def add(a, b):\n    return a + b\n"
            meta = {"nbgrader": {"grade_id": cell.grade_id}}
            cells.append({"cell_type": "code", "metadata": meta, "source": source})
        elif cell.grade_id:
            meta = {"nbgrader": {"grade_id": cell.grade_id}}
            cells.append({"cell_type": "raw", "metadata": meta, "source": ""})
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def test_a_browser_submission_misses_no_test_and_an_upload_without_one_is_noted(
    enrollment, exercise
) -> None:
    # given what the browser sends, and an upload whose test cell lost its metadata
    upload = answered(add_exercise(), add="def add(a, b):\n    return a + b\n")
    for cell in upload["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "test_add":
            cell["metadata"] = {}
    # when both are submitted
    sent = services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=browser_notebook(exercise)
    )
    uploaded = services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=upload
    )
    # then only the upload's stored notebook notes the test it lacks (not run: 0 points)
    assert "missing_tests" not in sent.notebook["metadata"]
    assert uploaded.notebook["metadata"]["missing_tests"] == ["test_add"]


def test_a_learner_not_enrolled_cannot_submit(exercise) -> None:
    with pytest.raises(services.SubmissionRefused, match="not enrolled"):
        services.submission_create(learner=UserFactory(), exercise=exercise, notebook={"cells": []})


def test_staff_cannot_submit_as_learners(enrollment, exercise) -> None:
    ta = EnrollmentFactory(cohort=enrollment.cohort, role=EnrollmentRole.TA).user
    with pytest.raises(services.SubmissionRefused):
        services.submission_create(learner=ta, exercise=exercise, notebook={"cells": []})


def test_the_attempt_limit_is_enforced_and_our_errors_do_not_count(enrollment, exercise) -> None:
    exercise.max_attempts = 2
    exercise.save(update_fields=["max_attempts"])
    first = _submit(enrollment, exercise)
    Submission.objects.filter(pk=first.pk).update(status=SubmissionStatus.ERROR)
    second = _submit(enrollment, exercise)
    third = _submit(enrollment, exercise)
    assert (second.attempt, third.attempt) == (1, 2)
    with pytest.raises(services.SubmissionRefused, match="all 2 attempts"):
        _submit(enrollment, exercise)


@pytest.mark.django_db(transaction=True)
def test_submits_sent_at_once_cannot_exceed_the_attempt_limit(enrollment, exercise) -> None:
    # given: two attempts allowed, and six submits of the learner's that start together
    exercise.max_attempts = 2
    exercise.save(update_fields=["max_attempts"])
    start, outcomes = threading.Barrier(6), []

    def submit() -> None:
        start.wait()
        try:
            outcomes.append(_submit(enrollment, exercise).attempt)
        except services.SubmissionRefused:
            outcomes.append("refused")
        finally:
            connection.close()  # this thread's own

    threads = [threading.Thread(target=submit) for _ in range(6)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: counting the attempts and adding one are one step (a lock on PostgreSQL, the
    # write lock on SQLite): two accepted, numbered 1 and 2, the rest refused
    assert sorted(o for o in outcomes if o != "refused") == [1, 2]
    assert outcomes.count("refused") == 4
    assert Submission.objects.filter(learner=enrollment.user, exercise=exercise).count() == 2


def test_late_work_is_refused_after_the_hard_deadline(enrollment, exercise) -> None:
    now = timezone.now()
    exercise.due_at = now - timedelta(days=2)
    exercise.hard_deadline = now - timedelta(days=1)
    exercise.save(update_fields=["due_at", "hard_deadline"])
    with pytest.raises(services.SubmissionRefused, match="deadline"):
        _submit(enrollment, exercise)


def test_an_extension_moves_the_deadline_for_one_learner(enrollment, exercise) -> None:
    now = timezone.now()
    exercise.due_at = now - timedelta(days=2)
    exercise.late_policy = LatePolicy.REFUSE
    exercise.save(update_fields=["due_at", "late_policy"])
    with pytest.raises(services.SubmissionRefused):
        _submit(enrollment, exercise)
    Extension.objects.create(
        exercise=exercise, learner=enrollment.user, due_at=now + timedelta(days=1)
    )
    assert _submit(enrollment, exercise).late_days == 0


def test_a_claim_is_won_by_exactly_one_worker(enrollment, exercise) -> None:
    submission = _submit(enrollment, exercise)
    first = services.submission_claim(submission_id=submission.pk, worker="grader@host-a")
    second = services.submission_claim(submission_id=submission.pk, worker="grader@host-b")
    assert first is not None
    assert second is None
    submission.refresh_from_db()
    assert (submission.status, submission.worker) == (SubmissionStatus.RUNNING, "grader@host-a")


def test_a_grade_is_saved_with_the_late_penalty_and_a_history_record(enrollment, exercise) -> None:
    exercise.due_at = timezone.now() - timedelta(hours=30)  # two started days late
    exercise.late_policy = LatePolicy.PENALTY
    exercise.late_penalty_percent_per_day = Decimal(10)
    exercise.save(update_fields=["due_at", "late_policy", "late_penalty_percent_per_day"])
    submission = _submit(enrollment, exercise)
    claim = services.submission_claim(submission_id=submission.pk)
    assert services.submission_record_grade(claim=claim, report=_report(3.0))
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.GRADED
    assert submission.late_days == 2
    assert submission.score == Decimal("2.40")
    record = submission.grades.get()
    assert (record.raw_score, record.score, record.kind) == (
        Decimal("3.00"),
        Decimal("2.40"),
        GradeKind.AUTO,
    )


def test_a_stale_claim_saves_nothing(enrollment, exercise) -> None:
    # given a worker that claimed, then was presumed dead and its submission requeued
    submission = _submit(enrollment, exercise)
    stale = services.submission_claim(submission_id=submission.pk)
    later = timezone.now() + timedelta(hours=1)
    assert recovery.sweep(now=later)["orphaned"] == [submission.pk]
    fresh = services.submission_claim(submission_id=submission.pk)
    # when the old worker finally reports
    assert not services.submission_record_grade(claim=stale, report=_report(3.0))
    # then only the current claim may save
    assert services.submission_record_grade(claim=fresh, report=_report(1.0))
    submission.refresh_from_db()
    assert submission.score == Decimal("1.00")
    assert submission.grades.count() == 1


def test_stuck_submissions_are_requeued_but_fresh_ones_are_left_alone(
    enrollment, exercise, no_queue
) -> None:
    stuck = _submit(enrollment, exercise)
    running = _submit(enrollment, exercise)
    services.submission_claim(submission_id=stuck.pk)
    # beating, but running for longer than any grading may take: its worker is wedged
    Submission.objects.filter(pk=stuck.pk).update(
        started_at=timezone.now() - timedelta(hours=1), heartbeat_at=timezone.now()
    )
    services.submission_claim(submission_id=running.pk)
    assert recovery.sweep()["orphaned"] == [stuck.pk]
    assert Submission.objects.get(pk=running.pk).status == SubmissionStatus.RUNNING


def test_regrading_keeps_the_history(
    enrollment, exercise, no_queue, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        submission = _submit(enrollment, exercise)
    claim = services.submission_claim(submission_id=submission.pk)
    services.submission_record_grade(claim=claim, report=_report(1.0))
    # when the instructor regrades all
    with django_capture_on_commit_callbacks(execute=True):
        assert services.exercise_regrade_all(exercise=exercise) == 1
    claim = services.submission_claim(submission_id=submission.pk)
    services.submission_record_grade(claim=claim, report=_report(3.0))
    # then both grades are kept, newest first
    kinds = list(submission.grades.values_list("kind", "score"))
    assert kinds == [(GradeKind.REGRADE, Decimal("3.00")), (GradeKind.AUTO, Decimal("1.00"))]
    assert no_queue.count(submission.pk) == 2


def test_a_failure_of_the_learners_code_is_shown_with_its_reason(enrollment, exercise) -> None:
    submission = _submit(enrollment, exercise)
    claim = services.submission_claim(submission_id=submission.pk)
    services.submission_fail(claim=claim, reason="Your code used more than 1024 MB of memory.")
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.FAILED
    assert submission.score == 0
    assert "1024 MB" in submission.error_message


def test_a_run_stopped_by_the_learners_code_fails_with_the_reason_and_keeps_what_ran(
    enrollment, exercise
) -> None:
    submission = _submit(enrollment, exercise)
    claim = services.submission_claim(submission_id=submission.pk)
    stopped = GradeReport(
        score=2.0,
        max_score=3.0,
        pending_points=0.0,
        tests=_report(2.0).tests,
        notes=("Cell 3 did not finish within 30 s.",),
    )
    assert services.submission_record_grade(claim=claim, report=stopped)
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.FAILED
    assert submission.score == Decimal("2.00")
    assert submission.error_message == "Cell 3 did not finish within 30 s."


def test_our_errors_are_released_for_retry_then_flagged(enrollment, exercise) -> None:
    submission = _submit(enrollment, exercise)
    claim = services.submission_claim(submission_id=submission.pk)
    services.submission_release(claim=claim, error="SandboxInfraError: bwrap died")
    submission.refresh_from_db()
    assert (submission.status, submission.infra_failures) == (SubmissionStatus.QUEUED, 1)
    services.submission_flag_error(submission_id=submission.pk, error="gave up")
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ERROR
    assert submission.needs_staff


def test_a_learner_over_the_daily_cpu_quota_cannot_submit(enrollment, exercise) -> None:
    # given a cohort allowing 5 CPU-seconds a day, all used by earlier runs
    CohortQuota.objects.create(cohort=enrollment.cohort, cpu_seconds_per_day=5)
    quota_record(
        user=enrollment.user,
        cohort=enrollment.cohort,
        kind=QuotaKind.CPU_SECONDS,
        amount=5,
    )
    # when / then
    with pytest.raises(services.SubmissionRefused, match="5 of your 5 sandbox CPU-seconds"):
        _submit(enrollment, exercise)
    assert not Submission.objects.filter(learner=enrollment.user).exists()


def test_a_learners_latest_queued_submission_is_graded_first_and_the_older_ones_later(
    enrollment, exercise, no_queue
) -> None:
    # given: three submissions of one learner, each sent with its own message
    first, second, third = (_submit(enrollment, exercise) for _ in range(3))
    # when: the messages come up in the order they were sent
    graded = []
    for message in (first, second, third):
        picked = services.submission_pick_next(submission_id=message.pk)
        assert services.submission_claim(submission_id=picked) is not None
        graded.append(picked)
    # then: the latest is graded first, every one once, and nothing was sent again
    assert graded == [third.pk, second.pk, first.pk]
    assert no_queue == []
    assert services.submission_pick_next(submission_id=first.pk) is None


def test_a_message_whose_pick_another_worker_claimed_grades_the_next_waiting_one(
    enrollment, exercise, monkeypatch
) -> None:
    # given: two queued submissions; another worker claims the latest between our pick
    # and our claim
    older, latest = _submit(enrollment, exercise), _submit(enrollment, exercise)
    pick = services.submission_pick_next
    raced: list[services.Claim | None] = []

    def pick_then_race(*, submission_id: int) -> int | None:
        picked = pick(submission_id=submission_id)
        if not raced:
            raced.append(services.submission_claim(submission_id=picked, worker="other"))
        return picked

    def grade(*, submission_id: int, worker: str = "") -> bool:
        return services.submission_claim(submission_id=submission_id, worker=worker) is not None

    monkeypatch.setattr(services, "submission_pick_next", pick_then_race)
    monkeypatch.setattr(services, "submission_grade", grade)
    # when our message (the older one's) is handled
    graded = services.submission_grade_next(submission_id=older.pk, worker="us")
    # then the other worker has the latest, and we graded the older one: none is left
    assert graded == older.pk
    assert dict(Submission.objects.values_list("pk", "worker")) == {
        latest.pk: "other",
        older.pk: "us",
    }


def test_other_learners_and_other_exercises_keep_their_place_in_the_queue(
    enrollment, exercise, no_queue
) -> None:
    mine = _submit(enrollment, exercise)
    other = EnrollmentFactory(cohort=enrollment.cohort)
    notebook = answered(add_exercise(), add="def add(a, b):\n    return a + b\n")
    services.submission_create(learner=other.user, exercise=exercise, notebook=notebook)
    module = ModuleFactory(course=enrollment.cohort.course)
    second_exercise = exercise_create(
        module=module, title="Add again", slug="add-again", notebook=as_json(add_exercise())
    )
    _submit(enrollment, second_exercise)
    assert services.submission_pick_next(submission_id=mine.pk) == mine.pk
    assert no_queue == []
