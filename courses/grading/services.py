"""Writes: the life of a submission, read top-down.

QUEUED → RUNNING → GRADED | FAILED (the learner's code; the reason is shown) | ERROR (ours:
retried, then flagged for staff). The database is the source of truth: the queue only
carries ids (sent by name once the transaction commits: courses.queues), claims are
conditional updates, and a grade is saved only by the claim that is still current, so a
redelivered or requeued task never grades twice. The worker's task (courses.grading.tasks)
calls submission_grade, which runs the pipeline (courses.grading.pipeline) and saves what
scoring (courses.grading.scoring) made of it.
"""

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from campus.models import User
from courses.assignment import learner_cells, missing_tests, stored_notebook
from courses.cohorts.quotas import QuotaExceeded, QuotaKind, quota_check, quota_record
from courses.environments.services import EnvironmentNotReady, environment_runtime
from courses.exercises.policy import Deadline, LateState, late_state
from courses.exercises.selectors import (
    attempts_used,
    exercise_terms,
    late_penalty_percent,
    parsed_exercise,
)
from courses.grading import kernels, progress, recovery
from courses.grading.pipeline import grade_notebook
from courses.grading.scoring import GradeReport, apply_manual_grades, late_scores
from courses.models import (
    Cohort,
    Enrollment,
    EnrollmentRole,
    Exercise,
    GradeKind,
    GradeRecord,
    ManualGrade,
    Submission,
    SubmissionOutputs,
    SubmissionStatus,
)
from sandbox import SandboxUserError

TERMINAL = (SubmissionStatus.GRADED, SubmissionStatus.FAILED, SubmissionStatus.ERROR)
log = logging.getLogger(__name__)


class SubmissionRefused(Exception):
    """The submission is not accepted; the message is for the learner."""


# ----------------------------------------------------------------------- submitting


def submission_create(
    *,
    learner: User,
    exercise: Exercise,
    notebook: dict[str, Any],
    now: datetime | None = None,
    cohort: Cohort | None = None,
) -> Submission:
    """Accept a learner's notebook for grading and enqueue it once the transaction commits.

    Only the answer cells are kept. Raises SubmissionRefused (not enrolled, deadline passed,
    no attempts left, notebook too large) with a message for the learner. With Redis
    down the submission is still accepted: the outbox sends it once Redis is back.
    `cohort`: the learner's cohort in the exercise's course, when the caller has read it.
    """
    now = now or timezone.now()
    cohort = cohort or _learner_cohort(learner=learner, exercise=exercise)
    # The cohort's settings for the exercise, read once: the deadline and the attempt limit.
    deadline, limit = exercise_terms(exercise=exercise, learner=learner)
    state = _check_deadline(deadline=deadline, now=now)
    try:
        quota_check(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS)
    except QuotaExceeded as exc:
        raise SubmissionRefused(str(exc)) from exc
    except redis.RedisError as exc:
        # The quota cannot be read: accept (the CPU used is recorded after the run).
        log.warning("CPU quota not checked for %s: %s", learner.pk, exc)
    answers = _answer_notebook(exercise=exercise, notebook=notebook)
    with transaction.atomic():
        # Serialise attempts of one learner on one exercise: count and insert together.
        # SQLite has no row locks: its IMMEDIATE transactions serialise every writer.
        if connection.features.has_select_for_update:
            Enrollment.objects.select_for_update().filter(user=learner, cohort=cohort).first()
        used = attempts_used(exercise=exercise, learner=learner)
        if limit is not None and used >= limit:
            raise SubmissionRefused(
                _("You have used all %(count)d attempts for this exercise.") % {"count": limit}
            )
        submission = Submission.objects.create(
            learner=learner,
            exercise=exercise,
            cohort=cohort,
            attempt=used + 1,
            notebook=answers,
            late_days=state.days_late,
            max_score=exercise.points,
            enqueued_at=timezone.now(),
        )
        recovery.send_on_commit(submission.pk)
    progress.publish(submission.pk, {"status": SubmissionStatus.QUEUED})
    return submission


def _learner_cohort(*, learner: User, exercise: Exercise) -> Cohort:
    enrollment = (
        Enrollment.objects.filter(
            user=learner, cohort__course_id=exercise.module.course_id, role=EnrollmentRole.STUDENT
        )
        .select_related("cohort")
        .first()
    )
    if enrollment is None:
        raise SubmissionRefused(_("You are not enrolled as a student in this course."))
    return enrollment.cohort


def _check_deadline(*, deadline: Deadline, now: datetime) -> LateState:
    state = late_state(deadline=deadline, at=now)
    if state.reason == "hard_deadline":
        raise SubmissionRefused(_("The deadline for this exercise has passed."))
    if state.reason == "past_due":
        raise SubmissionRefused(
            _("This exercise was due before now and does not accept late work.")
        )
    return state


def _answer_notebook(*, exercise: Exercise, notebook: dict[str, Any]) -> dict[str, Any]:
    """The learner's answer cells (by grade id) and added cells: nothing else is ever used."""
    if len(json.dumps(notebook)) > settings.SUBMISSION_MAX_BYTES:
        raise SubmissionRefused(_("This notebook is too large to submit."))
    parsed = parsed_exercise(exercise)
    return stored_notebook(
        learner_cells(exercise=parsed, submission=notebook),
        missing_tests(exercise=parsed, submission=notebook),
    )


# ------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class Claim:
    submission_id: int
    token: datetime  # started_at of this claim: only its holder may finish the submission


class GradingFailed(Exception):
    """Our error while grading `submission_id` (released to QUEUED): to be retried."""

    def __init__(self, submission_id: int, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.submission_id = submission_id


def submission_pick_next(*, submission_id: int) -> int | None:
    """Which submission a grading message for `submission_id` grades: the learner's latest
    still-QUEUED submission of the same exercise (at a deadline, the grade that counts comes
    first); None when none of theirs waits.

    Each QUEUED submission was sent with a message of its own, and each message grades one
    submission of its learner and exercise while any waits: the message of a submission
    graded in another's place grades an older one in its turn. So none is lost or skipped,
    and none is sent twice.
    """
    message = Submission.objects.filter(pk=submission_id)
    return (
        Submission.objects.filter(
            learner_id=Subquery(message.values("learner_id")),
            exercise_id=Subquery(message.values("exercise_id")),
            status=SubmissionStatus.QUEUED,
        )
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def submission_grade_next(*, submission_id: int, worker: str = "") -> int | None:
    """Grade what a grading message for `submission_id` stands for (submission_pick_next);
    when another worker claims it first, the next of that learner's waiting ones. Returns
    the id graded (None: none waited). Raises GradingFailed on our errors."""
    target = submission_pick_next(submission_id=submission_id)
    while target is not None:
        try:
            if submission_grade(submission_id=target, worker=worker):
                return target
        except Exception as exc:
            raise GradingFailed(target, exc) from exc
        # Another worker claimed it between our pick and our claim: it grades that one.
        target = submission_pick_next(submission_id=submission_id)
    return None


def submission_claim(*, submission_id: int, worker: str = "") -> Claim | None:
    """QUEUED → RUNNING for exactly one caller (`worker`, its Celery name, is recorded);
    None when another got it (or it is done)."""
    token = timezone.now()
    updated = Submission.objects.filter(pk=submission_id, status=SubmissionStatus.QUEUED).update(
        status=SubmissionStatus.RUNNING, started_at=token, heartbeat_at=token, worker=worker[:200]
    )
    if updated != 1:
        # Nothing got updated: another worker claimed it first, or it is finished.
        return None
    progress.publish(submission_id, {"status": SubmissionStatus.RUNNING})
    return Claim(submission_id=submission_id, token=token)


def _finish(claim: Claim, **fields: Any) -> bool:
    fields.setdefault("finished_at", timezone.now())
    updated = Submission.objects.filter(
        pk=claim.submission_id, status=SubmissionStatus.RUNNING, started_at=claim.token
    ).update(**fields)
    return updated == 1


def submission_grade(*, submission_id: int, worker: str = "") -> bool:
    """Claim (as `worker`), grade in a fresh sandboxed kernel and a trusted runner, save.
    False when another worker claimed it first (or it is finished): nothing was done.

    SandboxUserError (the learner's code broke a limit) ends as FAILED with its reason.
    Anything else is ours: the submission goes back to QUEUED and the error propagates so
    that the task retries it.
    """
    submission = (
        Submission.objects.select_related("exercise", "cohort__course", "learner")
        .filter(pk=submission_id, status=SubmissionStatus.QUEUED)
        .first()
    )
    if submission is None:
        return False
    course = submission.cohort.course  # read with the submission
    try:
        runtime_dir = environment_runtime(course_id=course.pk, course=course)
    except EnvironmentNotReady:
        # Left QUEUED: sent again when the environment is built (or by the sweep).
        return True
    claim = submission_claim(submission_id=submission_id, worker=worker)
    if claim is None:
        return False
    lent: list[kernels.LearnerKernel] = []

    def kernel_factory() -> kernels.LearnerKernel:
        kernel = kernels.learner_kernel(
            user_id=submission.learner_id,
            course_id=submission.cohort.course_id,
            cohort=submission.cohort,
            runtime_dir=runtime_dir,
        )
        lent.append(kernel)
        return kernel

    try:
        with recovery.heartbeat(submission_id=submission_id, token=claim.token):
            report = grade_notebook(
                source=parsed_exercise(submission.exercise),
                submission=submission.notebook,
                kernel_factory=kernel_factory,
                limits=kernels.grading_limits(),
                model_service_up=kernels.model_service_up,
            )
    except SandboxUserError as exc:
        submission_fail(claim=claim, reason=str(exc))
        return True
    except Exception as exc:
        submission_release(claim=claim, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        _record_cpu(submission, sum(k.cpu_seconds for k in lent))
    submission_record_grade(claim=claim, report=report, submission=submission)
    return True


def _record_cpu(submission: Submission, cpu_seconds: float) -> None:
    """Count the sandbox CPU time against the learner's daily quota (measured after the
    run, so it is recorded even past the limit; the next submission is then refused)."""
    if cpu_seconds <= 0:
        return
    # Redis down: the grade matters more than the count (left uncounted, not raised).
    with contextlib.suppress(redis.RedisError):
        quota_record(
            user=submission.learner,
            cohort=submission.cohort,
            kind=QuotaKind.CPU_SECONDS,
            amount=math.ceil(cpu_seconds),
        )


def submission_record_grade(
    *, claim: Claim, report: GradeReport, submission: Submission | None = None
) -> bool:
    """Save a grade (with the late penalty) and its history record. False when the claim
    is stale (the submission was requeued meanwhile): nothing is saved then. `submission`,
    when the caller has it, saves reading it again (its grading fields are not used)."""
    if submission is None or submission.pk != claim.submission_id:
        submission = Submission.objects.select_related("exercise", "cohort__course").get(
            pk=claim.submission_id
        )
    result = report.as_dict(instructor=True)
    manual = list(ManualGrade.objects.filter(submission_id=claim.submission_id))
    if manual:
        # A regrade keeps what a person graded by hand.
        result = apply_manual_grades(result=result, grades=manual)
    raw, score = late_scores(score=result["score"], penalty_percent=penalty_of(submission))
    max_score = Decimal(str(round(report.max_score, 2)))
    # The learner's code stopped the run (time, memory, a dead kernel): FAILED with the
    # reason shown; the tests that did run still count.
    status = SubmissionStatus.FAILED if report.notes else SubmissionStatus.GRADED
    with transaction.atomic():
        if not _finish(
            claim,
            status=status,
            score=score,
            max_score=max_score,
            result=result,
            error_message=" ".join(report.notes),
            needs_staff=False,
        ):
            return False
        regrade = GradeRecord.objects.filter(submission_id=claim.submission_id).exists()
        GradeRecord.objects.create(
            submission_id=claim.submission_id,
            kind=GradeKind.REGRADE if regrade else GradeKind.AUTO,
            score=score,
            raw_score=raw,
            max_score=max_score,
            result=result,
        )
        if regrade:
            SubmissionOutputs.objects.update_or_create(
                submission_id=claim.submission_id, defaults={"cells": dict(report.outputs)}
            )
        else:  # saved with the first grade only: one write, no read, under the write lock
            SubmissionOutputs.objects.create(
                submission_id=claim.submission_id, cells=dict(report.outputs)
            )
    progress.publish(
        claim.submission_id, {"status": status, "score": str(score), "max_score": str(max_score)}
    )
    return True


def penalty_of(submission: Submission) -> Decimal:
    """The late penalty of a submission, in percent, under today's deadline for its learner
    (an extension granted since counts)."""
    return late_penalty_percent(
        exercise=submission.exercise,
        learner=submission.learner,
        submitted_at=submission.created_at,
    )


def submission_fail(*, claim: Claim, reason: str) -> bool:
    """The learner's code stopped grading (memory, time...): zero, with the reason shown."""
    done = _finish(claim, status=SubmissionStatus.FAILED, score=Decimal(0), error_message=reason)
    if done:
        progress.publish(claim.submission_id, {"status": SubmissionStatus.FAILED, "reason": reason})
    return done


def submission_release(*, claim: Claim, error: str) -> None:
    """Our failure, to be retried: back to QUEUED so the retry can claim it again."""
    Submission.objects.filter(
        pk=claim.submission_id, status=SubmissionStatus.RUNNING, started_at=claim.token
    ).update(status=SubmissionStatus.QUEUED, error_message=error[:2000], enqueued_at=timezone.now())
    Submission.objects.filter(pk=claim.submission_id).update(infra_failures=F("infra_failures") + 1)
    progress.publish(claim.submission_id, {"status": SubmissionStatus.QUEUED, "retrying": True})


def submission_flag_error(*, submission_id: int, error: str) -> None:
    """Retries are spent: ERROR, flagged for staff. The learner keeps the attempt."""
    Submission.objects.filter(pk=submission_id).exclude(status__in=TERMINAL).update(
        status=SubmissionStatus.ERROR,
        error_message=error[:2000],
        needs_staff=True,
        finished_at=timezone.now(),
    )
    progress.publish(submission_id, {"status": SubmissionStatus.ERROR})


def submission_regrade(*, submission: Submission) -> bool:
    """Grade a finished submission again; its earlier grades stay in the history."""
    updated = Submission.objects.filter(pk=submission.pk, status__in=TERMINAL).update(
        status=SubmissionStatus.QUEUED,
        needs_staff=False,
        infra_failures=0,
        enqueued_at=timezone.now(),
    )
    if updated:
        recovery.send_on_commit(submission.pk)
        progress.publish(submission.pk, {"status": SubmissionStatus.QUEUED})
    return bool(updated)


def exercise_regrade_all(*, exercise: Exercise) -> int:
    """Regrade every finished submission of an exercise; returns how many were queued."""
    return sum(
        submission_regrade(submission=submission)
        for submission in Submission.objects.filter(exercise=exercise, status__in=TERMINAL)
    )
