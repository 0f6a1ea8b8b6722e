"""Grading by hand: points and a comment on free-response items (nbgrader manual answers
and tasks). The submission's score and result change; a GradeRecord keeps the history."""

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from campus.models import User
from courses.assignment import Role
from courses.exercises.selectors import parsed_exercise
from courses.grading.scoring import apply_manual_grades, late_scores
from courses.grading.services import penalty_of
from courses.models import (
    GradeKind,
    GradeRecord,
    ManualGrade,
    Submission,
    SubmissionStatus,
)

MANUAL_ROLES = (Role.MANUAL, Role.TASK)


class MarkingError(ValueError):
    """The grade cannot be given; the message says why."""


def manual_items(*, submission: Submission) -> dict[str, float]:
    """The free-response items of the submission's exercise: grade id → maximum points."""
    parsed = parsed_exercise(submission.exercise)
    return {c.grade_id: c.points for c in parsed.cells if c.role in MANUAL_ROLES and c.grade_id}


def manual_grade_set(
    *, submission: Submission, grade_id: str, points: Decimal, comment: str, grader: User
) -> Submission:
    """Grade one free-response item. Contract: `grader` has been checked as course staff.

    The item's points replace its pending state in the result; the score is the sum of all
    items, minus the late penalty; a GradeRecord of kind manual is added.
    """
    maximum = manual_items(submission=submission).get(grade_id)
    if maximum is None:
        raise MarkingError(_("This item is not graded by a person."))
    if points < 0 or points > Decimal(str(maximum)):
        raise MarkingError(_("Points must be between 0 and %(max)s.") % {"max": f"{maximum:g}"})
    if submission.status != SubmissionStatus.GRADED or not submission.result:
        raise MarkingError(_("Only a graded submission can be graded by hand."))
    with transaction.atomic():
        locked = (
            Submission.objects.select_for_update().select_related("exercise").get(pk=submission.pk)
        )
        ManualGrade.objects.update_or_create(
            submission=locked,
            grade_id=grade_id,
            defaults={"points": points, "comment": comment, "grader": grader},
        )
        return _rescore(submission=locked, grader=grader)


def _rescore(*, submission: Submission, grader: User) -> Submission:
    grades = list(ManualGrade.objects.filter(submission=submission))
    result = apply_manual_grades(result=submission.result, grades=grades)
    raw, score = late_scores(score=result["score"], penalty_percent=penalty_of(submission))
    submission.result, submission.score = result, score
    submission.save(update_fields=["result", "score"])
    GradeRecord.objects.create(
        submission=submission,
        kind=GradeKind.MANUAL,
        score=score,
        raw_score=raw,
        max_score=submission.max_score or submission.exercise.points,
        result=result,
        graded_by=grader,
    )
    return submission
