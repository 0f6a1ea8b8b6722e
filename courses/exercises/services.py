"""Writes on exercises: import (upload, a new notebook version), settings per course and
per cohort, extensions."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from campus.models import User
from campus.payloads import json_loads_bounded
from courses.assignment import ExerciseInvalid, Problem, parse_exercise
from courses.catalog.services import AuthoringError, item_slugs, next_item_position, unique_slug
from courses.models import (
    Cohort,
    CohortExercise,
    Exercise,
    ExerciseValidation,
    Extension,
    Module,
)


def exercise_create(
    *, module: Module, title: str, slug: str, notebook: bytes | str | dict[str, Any], **fields: Any
) -> Exercise:
    """Import an nbgrader or otter notebook. Raises ExerciseInvalid (every problem, by cell)
    and saves nothing when the notebook is not valid."""
    parsed = parse_exercise(data=notebook)
    source = notebook if isinstance(notebook, dict) else read_notebook(notebook)
    return Exercise.objects.create(
        module=module,
        title=title,
        slug=slug,
        source=source,
        source_format=parsed.format,
        points=Decimal(str(parsed.max_score)),
        **fields,
    )


def read_notebook(data: bytes | str) -> dict[str, Any]:
    """The uploaded file as a notebook dict; ExerciseInvalid when it is not JSON."""
    try:
        loaded = json_loads_bounded(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExerciseInvalid([Problem("not_json", f"The file is not a notebook: {exc}")]) from exc
    if not isinstance(loaded, dict):
        raise ExerciseInvalid([Problem("not_json", "The file is not a notebook.")])
    return loaded


def exercise_upload(
    *, module: Module, title: str, notebook: bytes | str, slug: str = ""
) -> Exercise:
    """A new exercise from an nbgrader or otter notebook, placed last in its module.
    Raises ExerciseInvalid with every problem, by cell; nothing is saved then."""
    source = read_notebook(notebook)
    taken = item_slugs(module)
    if slug and slug in taken:
        raise AuthoringError(_("This module already has an item with this slug."))
    return exercise_create(
        module=module,
        title=title,
        slug=slug or unique_slug(title=title, taken=taken, fallback="exercise"),
        notebook=source,
        position=next_item_position(module),
    )


def exercise_replace_notebook(
    *, exercise: Exercise, notebook: bytes | str | dict[str, Any]
) -> Exercise:
    """A new version of the instructor's notebook; the previous validation no longer holds."""
    source = notebook if isinstance(notebook, dict) else read_notebook(notebook)
    parsed = parse_exercise(data=source)
    exercise.source = source
    exercise.source_format = parsed.format
    exercise.points = Decimal(str(parsed.max_score))
    with transaction.atomic():
        exercise.save(update_fields=["source", "source_format", "points"])
        ExerciseValidation.objects.filter(exercise=exercise).delete()
    return exercise


@dataclass(frozen=True)
class ExerciseSettings:
    title: str
    due_at: datetime | None
    hard_deadline: datetime | None
    late_policy: str
    late_penalty_percent_per_day: Decimal
    max_attempts: int | None


def exercise_update(*, exercise: Exercise, settings: ExerciseSettings) -> Exercise:
    for name, value in vars(settings).items():
        setattr(exercise, name, value)
    exercise.save(update_fields=list(vars(settings)))
    return exercise


def cohort_exercise_set(
    *, cohort: Cohort, exercise: Exercise, settings: ExerciseSettings
) -> CohortExercise:
    """The cohort's own due date, late policy and attempt limit (empty = the exercise's)."""
    if cohort.course_id != exercise.module.course_id:
        raise AuthoringError(_("This cohort is not a run of this exercise's course."))
    values = {k: v for k, v in vars(settings).items() if k != "title"}
    override, _created = CohortExercise.objects.update_or_create(
        cohort=cohort, exercise=exercise, defaults=values
    )
    return override


def extension_grant(
    *, exercise: Exercise, learner: User, due_at: datetime, reason: str, granted_by: User
) -> Extension:
    extension, _created = Extension.objects.update_or_create(
        exercise=exercise,
        learner=learner,
        defaults={"due_at": due_at, "reason": reason, "granted_by": granted_by},
    )
    return extension
