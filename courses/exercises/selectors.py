"""Reads on exercises: the parsed notebook, and the policy that applies to one learner (their
cohort's overrides and their own extension over the exercise's settings)."""

import hashlib
import json
from datetime import datetime
from decimal import Decimal

from campus.models import User
from courses.assignment import Exercise as ParsedExercise
from courses.assignment import parse_exercise
from courses.exercises.policy import Deadline, late_state
from courses.models import (
    CohortExercise,
    EnrollmentRole,
    Exercise,
    Extension,
    Submission,
    SubmissionStatus,
)


def parsed_exercise(exercise: Exercise) -> ParsedExercise:
    return parse_exercise(data=exercise.source)


def source_version(exercise: Exercise) -> str:
    """A digest of the instructor's notebook: an edited notebook is a new version (what
    caches of its student version are kept under)."""
    return hashlib.blake2b(json.dumps(exercise.source).encode(), digest_size=16).hexdigest()


def cohort_settings(*, exercise: Exercise, learner: User) -> CohortExercise | None:
    """The learner's cohort's own settings for the exercise, when it has any."""
    return CohortExercise.objects.filter(
        exercise=exercise,
        cohort__enrollments__user=learner,
        cohort__enrollments__role=EnrollmentRole.STUDENT,
    ).first()


def exercise_deadline(*, exercise: Exercise, learner: User) -> Deadline:
    override = cohort_settings(exercise=exercise, learner=learner)
    return _deadline(exercise=exercise, learner=learner, override=override)


def exercise_terms(*, exercise: Exercise, learner: User) -> tuple[Deadline, int | None]:
    """The learner's deadline and attempt limit (as exercise_deadline and attempt_limit),
    with one look-up of their cohort's settings: the exercise page shows both."""
    override = cohort_settings(exercise=exercise, learner=learner)
    deadline = _deadline(exercise=exercise, learner=learner, override=override)
    return deadline, _attempt_limit(exercise=exercise, override=override)


def _deadline(*, exercise: Exercise, learner: User, override: CohortExercise | None) -> Deadline:
    extension = Extension.objects.filter(exercise=exercise, learner=learner).first()
    due_at = (override and override.due_at) or exercise.due_at
    hard = (override and override.hard_deadline) or exercise.hard_deadline
    if extension is not None:
        due_at = extension.due_at
        hard = max(hard, extension.due_at) if hard else None
    return Deadline(
        due_at=due_at,
        hard_deadline=hard,
        policy=(override and override.late_policy) or exercise.late_policy,
        penalty_percent_per_day=(
            override.late_penalty_percent_per_day
            if override and override.late_penalty_percent_per_day is not None
            else exercise.late_penalty_percent_per_day
        ),
    )


def late_penalty_percent(*, exercise: Exercise, learner: User, submitted_at: datetime) -> Decimal:
    """The late penalty of work the learner handed in at `submitted_at`, in percent."""
    deadline = exercise_deadline(exercise=exercise, learner=learner)
    return late_state(deadline=deadline, at=submitted_at).penalty_percent


def attempt_limit(*, exercise: Exercise, learner: User) -> int | None:
    """How many attempts the learner has in all: their cohort's limit, else the exercise's."""
    override = cohort_settings(exercise=exercise, learner=learner)
    return _attempt_limit(exercise=exercise, override=override)


def _attempt_limit(*, exercise: Exercise, override: CohortExercise | None) -> int | None:
    return (override and override.max_attempts) or exercise.max_attempts


# Our failures (ERROR) do not cost the learner an attempt.
NOT_AN_ATTEMPT = SubmissionStatus.ERROR


def attempts_used(*, exercise: Exercise, learner: User) -> int:
    return (
        Submission.objects.filter(exercise=exercise, learner=learner)
        .exclude(status=NOT_AN_ATTEMPT)
        .count()
    )


def attempts_among(submissions: list[Submission]) -> int:
    """attempts_used, counted in submissions already read."""
    return sum(1 for submission in submissions if submission.status != NOT_AN_ATTEMPT)
