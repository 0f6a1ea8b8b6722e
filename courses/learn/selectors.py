"""Reads for the learner's pages: the exercise page's notebook (the student version with
the learner's draft over it) and each exercise's and course's status for outlines.

Everything here starts from the student version of the exercise: solutions and hidden
tests are never in what these functions return.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Max

from campus.models import User
from courses.assignment import student_notebook
from courses.cohorts.quotas import QuotaKind, quota_check
from courses.exercises.selectors import parsed_exercise
from courses.html import render_markdown
from courses.models import Draft, Enrollment, Exercise, Submission, SubmissionStatus

EDITABLE_ROLES = ("answer", "plain")
HEADING = re.compile(r"<(/?)h([1-6])")


LONG_CELL_LINES = 30


@dataclass(frozen=True)
class NotebookCell:
    key: str  # stable across page loads: the grade id, or the position for plain cells
    number: int  # 1-based, as the page labels it
    cell_type: str  # "code" | "markdown" | "raw"
    role: str  # "answer" | "manual" | "test" | "locked" | "task" | "plain"
    source: str
    grade_id: str | None
    points: float | None

    @property
    def editable(self) -> bool:
        return self.role in EDITABLE_ROLES or self.role == "manual"

    @property
    def written(self) -> bool:
        """A written answer (nbgrader's Markdown answer cell): edited here, graded by hand."""
        return self.cell_type == "markdown" and self.role == "manual"

    @property
    def long(self) -> bool:
        """Long enough to be worth collapsing (a setup cell of hundreds of lines)."""
        return self.cell_type == "code" and self.source.count("\n") >= LONG_CELL_LINES

    @property
    def html(self) -> str:
        if self.cell_type != "markdown":
            return ""
        # The page's own title is the one h1: a notebook's headings sit one level below.
        return HEADING.sub(
            lambda m: f"<{m[1]}h{min(int(m[2]) + 1, 6)}", render_markdown(self.source)
        )


def _role(meta: dict[str, Any]) -> str:
    if not meta:
        return "plain"
    if meta.get("solution"):
        return "manual" if meta.get("grade") else "answer"
    if meta.get("grade"):
        return "test"
    if meta.get("task"):
        return "task"
    return "locked" if meta.get("locked") else "plain"


def _key(cell: Any, position: int) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"id:{grade_id}" if grade_id else f"cell:{position}"


def exercise_cells(*, exercise: Exercise, learner: User | None = None) -> list[NotebookCell]:
    """The student version's cells, with the learner's draft over the editable ones."""
    notebook = student_notebook(exercise=parsed_exercise(exercise))
    draft = _draft_sources(exercise=exercise, learner=learner)
    cells = []
    for position, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        role = _role(meta)
        key = _key(cell, position)
        source = cell.source
        if _drafted(cell.cell_type, role) and key in draft:
            source = draft[key]
        cells.append(
            NotebookCell(
                key=key,
                number=position + 1,
                cell_type=cell.cell_type,
                role=role,
                source=source,
                grade_id=meta.get("grade_id"),
                points=meta.get("points"),
            )
        )
    return cells


def _drafted(cell_type: str, role: str) -> bool:
    """Cells the learner writes in: code they may edit, and written (Markdown) answers."""
    if cell_type == "code":
        return role in ("answer", "manual", "plain")
    return cell_type == "markdown" and role == "manual"


def _draft_sources(*, exercise: Exercise, learner: User | None) -> dict[str, str]:
    if learner is None:
        return {}
    draft = Draft.objects.filter(exercise=exercise, learner=learner).only("notebook").first()
    sources = draft.notebook.get("cells", {}) if draft else {}
    return {k: v for k, v in sources.items() if isinstance(k, str) and isinstance(v, str)}


# -------------------------------------------------------------------- status per item


@dataclass(frozen=True)
class ItemStatus:
    state: str  # "not_started" | "draft" | "submitted" | "graded"
    score: Decimal | None = None
    max_score: Decimal | None = None


def exercise_statuses(*, learner: User, exercise_ids: list[int]) -> dict[int, ItemStatus]:
    """Status of each exercise for the learner: best graded score, else submitted, else
    draft. Two queries, whatever the number of exercises."""
    submissions = (
        Submission.objects.filter(learner=learner, exercise_id__in=exercise_ids)
        .values("exercise_id", "status")
        .annotate(best=Max("score"), max_score=Max("max_score"))
    )
    statuses: dict[int, ItemStatus] = {}
    for row in submissions:
        current = statuses.get(row["exercise_id"])
        if row["status"] == SubmissionStatus.GRADED:
            if current is None or current.state != "graded" or (current.score or 0) < row["best"]:
                statuses[row["exercise_id"]] = ItemStatus("graded", row["best"], row["max_score"])
        elif current is None:
            statuses[row["exercise_id"]] = ItemStatus("submitted")
    drafts = Draft.objects.filter(learner=learner, exercise_id__in=exercise_ids)
    for exercise_id in drafts.values_list("exercise_id", flat=True):
        statuses.setdefault(exercise_id, ItemStatus("draft"))
    return {pk: statuses.get(pk, ItemStatus("not_started")) for pk in exercise_ids}


@dataclass(frozen=True)
class CourseProgress:
    done: int  # exercises with a graded submission
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def course_progress(*, learner: User, course_ids: list[int]) -> dict[int, CourseProgress]:
    """Graded exercises out of all, per course: three queries, whatever the sizes."""
    exercises = list(
        Exercise.objects.filter(module__course_id__in=course_ids).values_list(
            "pk", "module__course_id"
        )
    )
    statuses = exercise_statuses(learner=learner, exercise_ids=[pk for pk, _ in exercises])
    progress = {course_id: CourseProgress(0, 0) for course_id in course_ids}
    for pk, course_id in exercises:
        current = progress[course_id]
        done = current.done + (statuses[pk].state == "graded")
        progress[course_id] = CourseProgress(done, current.total + 1)
    return progress


def check_session_quota(*, learner: User, exercise_id: int) -> None:
    """Raise QuotaExceeded (its text is the message submitting gives) when the learner's
    cohort in the exercise's course has no CPU-seconds left today: live kernels draw on the
    same daily quota as grading."""
    enrollment = (
        Enrollment.objects.filter(user=learner, cohort__course__modules__exercises=exercise_id)
        .select_related("cohort")
        .first()
    )
    if enrollment is not None:
        quota_check(user=learner, cohort=enrollment.cohort, kind=QuotaKind.CPU_SECONDS)
