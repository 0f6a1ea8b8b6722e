"""Validating an exercise: its reference solution and its student version graded through
the same pipeline as submissions, by a worker, before learners see it."""

from pathlib import Path
from typing import Any

from django.utils import timezone

from campus.models import User
from courses import queues
from courses.assignment import Exercise as ParsedExercise
from courses.assignment import Role, parse_exercise, student_notebook
from courses.environments.services import environment_runtime
from courses.grading import kernels
from courses.grading.pipeline import grade_notebook
from courses.grading.scoring import GradeReport
from courses.models import Exercise, ExerciseValidation


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
    queues.enqueue_on_commit(queues.VALIDATE_EXERCISE, exercise.pk, requested_by.pk)
    return validation


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
    answers = answerable(parsed)
    problems = []
    if any(not a["answerable"] and a["points"] > 0 for a in answers):
        problems.append("unanswerable")
    if _autograded(reference) < auto_max:
        problems.append("reference_not_full")
    if auto_max > 0 and _autograded(student) >= auto_max:
        problems.append("student_passes")
    return {
        "ok": not problems,
        "problems": problems,
        "autograded_max": auto_max,
        "answers": answers,
        "reference": reference.as_dict(instructor=True),
        "student": student.as_dict(instructor=True),
    }


def answerable(parsed: ParsedExercise) -> list[dict[str, Any]]:
    """What a learner answers on the exercise page, cell by cell: code answers (graded by
    tests or by hand), written Markdown answers, and tasks (answered in cells the learner
    adds under them, graded by hand). A raw answer cell has no editor on the page."""
    answers = []
    for cell in parsed.cells:
        if cell.grade_id is None or cell.role not in (Role.ANSWER, Role.MANUAL, Role.TASK):
            continue
        if cell.role is Role.TASK:
            kind = "task"
        elif cell.cell_type == "markdown":
            kind = "written"
        else:
            kind = "code_by_hand" if cell.role is Role.MANUAL else "code"
        answers.append(
            {
                "grade_id": cell.grade_id,
                "kind": kind,
                "points": cell.points,
                "answerable": kind == "task" or cell.cell_type in ("code", "markdown"),
            }
        )
    return answers


def _autograded(report: GradeReport) -> float:
    return sum(t.points for t in report.tests if t.status != "pending")


def validation_run(*, exercise_id: int, requested_by_id: int) -> None:
    """The worker's side: validate and save the outcome (an infrastructure error is saved too,
    so the page never waits forever). The kernels may call the model gateway as the person who
    asked, as a learner's kernels do: an exercise may be about open models."""
    exercise = Exercise.objects.select_related("module").get(pk=exercise_id)
    runtime_dir: list[Path | None] = []

    def kernel_factory() -> kernels.LearnerKernel:
        return kernels.learner_kernel(
            user_id=requested_by_id,
            course_id=exercise.module.course_id,
            cohort=None,
            runtime_dir=runtime_dir[0],
        )

    try:
        # In the course's environment; an environment not ready is reported like any error.
        runtime_dir.append(environment_runtime(course_id=exercise.module.course_id))
        report = exercise_validate(
            exercise=exercise,
            kernel_factory=kernel_factory,
            limits=kernels.grading_limits(),
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
