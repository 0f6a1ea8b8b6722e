"""Grade one notebook against an exercise, without web or queue: what instructors check with.

python manage.py grade_local --source SRC.ipynb --submission SUB.ipynb --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.assignment import MISSING_TESTS, ExerciseInvalid, missing_tests, parse_exercise
from courses.grading import kernels
from courses.grading.pipeline import grade_notebook
from courses.grading.scoring import GradeReport


class Command(BaseCommand):
    help = "Grade a submission notebook against an exercise notebook (nbgrader or otter)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, type=Path, help="the instructor's notebook")
        parser.add_argument("--submission", required=True, type=Path, help="the notebook to grade")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--detail",
            action="store_true",
            help="include instructor-only details (errors, tracebacks)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            exercise = parse_exercise(data=options["source"].read_bytes())
            submission = nbformat.reads(options["submission"].read_text(), as_version=4)
        except ExerciseInvalid as exc:
            raise CommandError(
                "The exercise cannot be imported:\n" + "\n".join(f"  - {p}" for p in exc.problems)
            ) from exc
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read a notebook: {exc}") from exc
        report = _grade(exercise, submission)
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(report, detail=options["detail"]), indent=2))
            return
        for item in report.tests:
            self.stdout.write(
                f"{item.grade_id}: {item.points:g}/{item.max_points:g} {item.message}"
            )
        for note in report.notes:
            self.stdout.write(note)
        self.stdout.write(f"Score: {report.score:g}/{report.max_score:g}")


def _grade(exercise: Any, submission: Any) -> GradeReport:
    """The workers' own sandbox (pool, limits from settings) and grader, used once; the
    tests the notebook lacks are noted as a submission notes them (they score 0)."""
    missing = missing_tests(exercise=exercise, submission=submission)
    metadata = {**submission.get("metadata", {}), MISSING_TESTS: missing}
    submission = {**submission, "metadata": metadata}
    try:
        return grade_notebook(
            source=exercise,
            submission=submission,
            kernel_factory=kernels.acquire_kernel,
            limits=kernels.grading_limits(),
        )
    finally:
        kernels.close_pool()


def _as_json(report: GradeReport, *, detail: bool) -> dict[str, Any]:
    keys = ["grade_id", "points", "max_points", "passed", "message"] + (
        ["detail"] if detail else []
    )
    data = report.as_dict(instructor=detail)
    return {
        "score": data["score"],
        "max_score": data["max_score"],
        "tests": [{k: t[k] for k in keys} for t in data["tests"]],
        **({"notes": data["notes"]} if detail else {}),
    }
