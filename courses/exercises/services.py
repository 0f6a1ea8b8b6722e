"""Exercises: upload, settings per course and per cohort, extensions, validation."""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import nbformat
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campus.models import User
from courses import services
from courses.assignment import ExerciseInvalid, Problem, Role, parse_exercise, student_notebook
from courses.authoring.content import AuthoringError, _next_item_position, item_slugs, unique_slug
from courses.grading import GradeReport, grade_notebook
from courses.models import (
    Cohort,
    CohortExercise,
    Exercise,
    ExerciseValidation,
    Extension,
    Module,
)


def read_notebook(data: bytes | str) -> dict[str, Any]:
    """The uploaded file as a notebook dict; ExerciseInvalid when it is not JSON."""
    try:
        loaded = json.loads(data)
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
    return services.exercise_create(
        module=module,
        title=title,
        slug=slug or unique_slug(title=title, taken=taken, fallback="exercise"),
        notebook=source,
        position=_next_item_position(module),
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


# ---------------------------------------------------------------------- validation


def validation_request(*, exercise: Exercise, requested_by: User) -> ExerciseValidation:
    """Queue a validation (graded by a worker: the web process never runs a kernel). While it
    runs, the exercise's code may call the model gateway as `requested_by`."""
    validation, _created = ExerciseValidation.objects.update_or_create(
        exercise=exercise,
        defaults={
            "status": "queued",
            "ok": False,
            "report": {},
            "requested_at": timezone.now(),
            "finished_at": None,
        },
    )
    transaction.on_commit(lambda: _enqueue(exercise.pk, requested_by.pk))
    return validation


def _enqueue(exercise_id: int, requested_by_id: int) -> None:
    from courses.tasks import validate_exercise

    validate_exercise.delay(exercise_id, requested_by_id)


def exercise_validate(*, exercise: Exercise, kernel_factory: Any, limits: Any) -> dict[str, Any]:
    """Grade the reference solution and the student version through the grading pipeline.

    Valid when the reference earns every autograded point and the student version does not.
    Returns both reports (instructor view: each test's outcome and detail) and the problems.
    """
    parsed = parse_exercise(data=exercise.source)
    reference = grade_notebook(
        source=parsed, submission=exercise.source, kernel_factory=kernel_factory, limits=limits
    )
    student = grade_notebook(
        source=parsed,
        submission=dict(student_notebook(exercise=parsed)),
        kernel_factory=kernel_factory,
        limits=limits,
    )
    auto_max = sum(c.points for c in parsed.cells if c.graded and c.role is Role.TEST)
    problems = []
    if _autograded(reference) < auto_max:
        problems.append("reference_not_full")
    if auto_max > 0 and _autograded(student) >= auto_max:
        problems.append("student_passes")
    return {
        "ok": not problems,
        "problems": problems,
        "autograded_max": auto_max,
        "reference": reference.as_dict(instructor=True),
        "student": student.as_dict(instructor=True),
    }


def _autograded(report: GradeReport) -> float:
    return sum(t.points for t in report.tests if t.status != "pending")


def validation_run(*, exercise_id: int, requested_by_id: int) -> None:
    """The worker's side: validate and save the outcome (an infrastructure error is saved too,
    so the page never waits forever). The kernels may call the model gateway as the person who
    asked, as a learner's kernels do: an exercise may be about open models."""
    from courses import sandboxing

    exercise = Exercise.objects.select_related("module").get(pk=exercise_id)

    def kernel_factory() -> sandboxing.LearnerKernel:
        return sandboxing.learner_kernel(
            user_id=requested_by_id, course_id=exercise.module.course_id, cohort=None
        )

    try:
        report = exercise_validate(
            exercise=exercise,
            kernel_factory=kernel_factory,
            limits=sandboxing.grading_limits(),
        )
        fields: dict[str, Any] = {"status": "done", "ok": report["ok"], "report": report}
    except Exception as exc:  # reported to the instructor; the task logs it too
        fields = {
            "status": "error",
            "ok": False,
            "report": {"error": f"{type(exc).__name__}: {exc}"},
        }
    ExerciseValidation.objects.filter(exercise_id=exercise_id).update(
        finished_at=timezone.now(), **fields
    )


def notebook_bytes(notebook: dict[str, Any]) -> str:
    return nbformat.writes(nbformat.from_dict(notebook))
