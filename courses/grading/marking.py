"""Grading by hand: points and a comment on free-response items (nbgrader manual answers
and tasks). The submission's score and result change; a GradeRecord keeps the history."""

import copy
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from campus.models import User
from courses import services
from courses.assignment import Role
from courses.models import (
    GradeKind,
    GradeRecord,
    ManualGrade,
    Submission,
    SubmissionStatus,
)
from courses.policies import apply_penalty, late_state

MANUAL_ROLES = (Role.MANUAL, Role.TASK)


class MarkingError(ValueError):
    """The grade cannot be given; the message says why."""


def manual_items(*, submission: Submission) -> dict[str, float]:
    """The free-response items of the submission's exercise: grade id → maximum points."""
    parsed = services.parsed_exercise(submission.exercise)
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


def apply_manual_grades(*, result: dict[str, Any], grades: list[ManualGrade]) -> dict[str, Any]:
    """`result` with each manually graded item's points and comment in place (pure)."""
    by_id = {g.grade_id: g for g in grades}
    updated = copy.deepcopy(result)
    for item in updated.get("tests", []):
        grade = by_id.get(item.get("grade_id"))
        if grade is None:
            continue
        item["points"] = float(grade.points)
        item["status"] = "graded"
        item["passed"] = float(grade.points) >= float(item.get("max_points", 0))
        item["message"] = grade.comment
        item["manual"] = True
    updated["pending_points"] = sum(
        float(i.get("max_points", 0)) for i in updated.get("tests", []) if i["status"] == "pending"
    )
    updated["score"] = round(sum(float(i.get("points", 0)) for i in updated.get("tests", [])), 6)
    return updated


def _rescore(*, submission: Submission, grader: User) -> Submission:
    grades = list(ManualGrade.objects.filter(submission=submission))
    result = apply_manual_grades(result=submission.result, grades=grades)
    raw = Decimal(str(round(result["score"], 2)))
    deadline = services.exercise_deadline(exercise=submission.exercise, learner=submission.learner)
    state = late_state(deadline=deadline, at=submission.created_at)
    score = apply_penalty(score=raw, penalty_percent=state.penalty_percent)
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
