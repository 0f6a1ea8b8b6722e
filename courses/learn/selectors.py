"""Reads for the learner's pages: the exercise page's notebook (the student version with
the learner's draft over it) and each exercise's and course's status for outlines.

Everything here starts from the student version of the exercise: solutions and hidden
tests are never in what these functions return.
"""

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from campus.models import User
from courses.assignment import student_notebook
from courses.cohorts.quotas import QuotaKind, quota_check, quota_limit
from courses.exercises.selectors import (
    attempts_among,
    attempts_used,
    parsed_exercise,
    source_version,
)
from courses.grading.gradebook import attempt_rank
from courses.html import render_markdown
from courses.models import Cohort, Draft, Enrollment, Exercise, Submission, SubmissionStatus

EDITABLE_ROLES = ("answer", "plain", "added")
ADDED_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
HEADING = re.compile(r"<(/?)h([1-6])")


LONG_CELL_LINES = 30
# Submissions the exercise page and its history list, newest first.
HISTORY_SHOWN = 50


@dataclass(frozen=True)
class NotebookCell:
    key: str  # stable across page loads: the grade id, the position for plain cells, or
    # "add:" and the id of a cell the learner added
    number: int  # 1-based, as the page labels it (the learner's own cells: among theirs)
    cell_type: str  # "code" | "markdown" | "raw"
    role: str  # "answer" | "manual" | "test" | "locked" | "task" | "plain" | "added"
    source: str
    grade_id: str | None
    points: float | None
    added_id: str | None = None

    @property
    def dom(self) -> str:
        """What the page's element ids are made of: unique among the page's cells."""
        return f"a-{self.added_id}" if self.added_id else str(self.number)

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
    """The student version's cells, with the learner's draft over the editable ones and
    the cells they added, each after the instructor's cell it follows."""
    draft = _draft(exercise=exercise, learner=learner)
    cells = _instructor_cells(exercise=exercise, draft=_draft_sources(draft))
    added: dict[str, list[dict[str, str]]] = {}
    for entry in added_cells_clean(draft.get("added"), keys=[c.key for c in cells]):
        added.setdefault(entry["after"], []).append(entry)
    placed: list[NotebookCell] = []
    mine = 0
    for cell in [None, *cells]:
        if cell is not None:
            placed.append(cell)
        for entry in added.pop(cell.key if cell else "", []):
            mine += 1
            placed.append(
                NotebookCell(
                    key=f"add:{entry['id']}",
                    number=mine,
                    cell_type=entry["cell_type"],
                    role="added",
                    source=entry["source"],
                    grade_id=None,
                    points=None,
                    added_id=entry["id"],
                )
            )
    return placed


def new_added_cells() -> list[NotebookCell]:
    """The page's templates for a cell the learner adds (the script fills in "__ID__")."""
    return [
        NotebookCell(
            key="add:__ID__",
            number=0,
            cell_type=cell_type,
            role="added",
            source="",
            grade_id=None,
            points=None,
            added_id="__ID__",
        )
        for cell_type in ("code", "markdown")
    ]


def added_cells_clean(added: Any, *, keys: list[str]) -> list[dict[str, str]]:
    """The learner's own cells, in order: {"id", "after", "cell_type", "source"} and nothing
    else (no metadata: an added cell never claims to be a test or a locked cell). `after` is
    the key of the instructor's cell it follows ("" for the top); one the notebook no longer
    has puts the cell at the end, so no work is lost. Malformed entries are dropped."""
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for entry in added if isinstance(added, list) else []:
        if not isinstance(entry, dict):
            continue
        cell_id, after = entry.get("id"), entry.get("after", "")
        cell_type, source = entry.get("cell_type"), entry.get("source")
        if (
            not isinstance(cell_id, str)
            or not ADDED_ID.fullmatch(cell_id)
            or cell_id in seen
            or cell_type not in ("code", "markdown")
            or not isinstance(source, str)
            or not isinstance(after, str)
        ):
            continue
        seen.add(cell_id)
        if after and after not in keys:
            after = keys[-1] if keys else ""
        cleaned.append({"id": cell_id, "after": after, "cell_type": cell_type, "source": source})
    return cleaned


def _instructor_cells(*, exercise: Exercise, draft: dict[str, str]) -> list[NotebookCell]:
    return [
        replace(cell, source=draft[cell.key])
        if _drafted(cell.cell_type, cell.role) and cell.key in draft
        else cell
        for cell in student_cells(exercise=exercise)
    ]


# The student version's cells by version of the instructor's notebook, in each process:
# parsing and converting a notebook takes 1-5 ms, and a class opens the same one all day.
_STUDENT_CELLS: dict[str, tuple[NotebookCell, ...]] = {}
STUDENT_CELLS_KEPT = 256


def student_cells(*, exercise: Exercise) -> tuple[NotebookCell, ...]:
    """The student version's cells, without any learner's draft."""
    version = source_version(exercise)
    cells = _STUDENT_CELLS.get(version)
    if cells is None:
        cells = _student_cells_of(exercise)
        if len(_STUDENT_CELLS) >= STUDENT_CELLS_KEPT:  # the oldest version goes first
            _STUDENT_CELLS.pop(next(iter(_STUDENT_CELLS)), None)
        _STUDENT_CELLS[version] = cells
    return cells


def _student_cells_of(exercise: Exercise) -> tuple[NotebookCell, ...]:
    notebook = student_notebook(exercise=parsed_exercise(exercise))
    cells = []
    for position, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        cells.append(
            NotebookCell(
                key=_key(cell, position),
                number=position + 1,
                cell_type=cell.cell_type,
                role=_role(meta),
                source=cell.source,
                grade_id=meta.get("grade_id"),
                points=meta.get("points"),
            )
        )
    return tuple(cells)


def _drafted(cell_type: str, role: str) -> bool:
    """Cells the learner writes in: code they may edit, and written (Markdown) answers."""
    if cell_type == "code":
        return role in ("answer", "manual", "plain")
    return cell_type == "markdown" and role == "manual"


def _draft(*, exercise: Exercise, learner: User | None) -> dict[str, Any]:
    if learner is None:
        return {}
    draft = Draft.objects.filter(exercise=exercise, learner=learner).only("notebook").first()
    return draft.notebook if draft and isinstance(draft.notebook, dict) else {}


def _draft_sources(draft: dict[str, Any]) -> dict[str, str]:
    sources = draft.get("cells", {})
    if not isinstance(sources, dict):
        return {}
    return {k: v for k, v in sources.items() if isinstance(k, str) and isinstance(v, str)}


def submission_history(*, exercise: Exercise, learner: User) -> list[Submission]:
    """The learner's latest HISTORY_SHOWN submissions to the exercise, newest first, without
    their notebooks: the history shows none, and each may weigh megabytes."""
    submissions = Submission.objects.filter(exercise=exercise, learner=learner)
    return list(submissions.defer("notebook")[:HISTORY_SHOWN])


def attempts_used_in(history: list[Submission], *, exercise: Exercise, learner: User) -> int:
    """exercises.selectors.attempts_used, counted from the learner's `history` when it
    holds every submission (one query fewer for the exercise page)."""
    if len(history) < HISTORY_SHOWN:
        return attempts_among(history)
    return attempts_used(exercise=exercise, learner=learner)


# -------------------------------------------------------------------- status per item


@dataclass(frozen=True)
class ItemStatus:
    state: str  # "not_started" | "draft" | "submitted" | "graded"
    score: Decimal | None = None
    max_score: Decimal | None = None


def exercise_statuses(*, learner: User, exercise_ids: list[int]) -> dict[int, ItemStatus]:
    """Status of each exercise for the learner: the graded score that counts (the course's
    rule: best or last graded attempt, as in the gradebook), else submitted, else draft.
    Two queries, whatever the number of exercises."""
    rows = Submission.objects.filter(learner=learner, exercise_id__in=exercise_ids).values_list(
        "id", "exercise_id", "status", "score", "max_score", "exercise__module__course__grade_rule"
    )
    kept: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        rank = attempt_rank(row[5])
        current = kept.get(row[1])
        if current is None or rank(_ranked(row)) > rank(_ranked(current)):
            kept[row[1]] = row
    statuses = {
        pk: ItemStatus("graded", row[3], row[4])
        if row[2] == SubmissionStatus.GRADED
        else ItemStatus("submitted")
        for pk, row in kept.items()
    }
    drafts = Draft.objects.filter(learner=learner, exercise_id__in=exercise_ids)
    for exercise_id in drafts.values_list("exercise_id", flat=True):
        statuses.setdefault(exercise_id, ItemStatus("draft"))
    return {pk: statuses.get(pk, ItemStatus("not_started")) for pk in exercise_ids}


def _ranked(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row in the layout of the gradebook's rank functions (id, -, -, status, score)."""
    return (row[0], None, None, row[2], row[3])


@dataclass(frozen=True)
class CourseProgress:
    done: int  # exercises with a graded submission
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def course_progress(*, learner: User, course_ids: list[int]) -> dict[int, CourseProgress]:
    """Graded exercises out of all, per course: three queries, whatever the sizes."""
    exercises = list(  # counted, so unsorted (sorting joins the courses)
        Exercise.objects.filter(module__course_id__in=course_ids)
        .order_by()
        .values_list("pk", "module__course_id")
    )
    statuses = exercise_statuses(learner=learner, exercise_ids=[pk for pk, _ in exercises])
    progress = {course_id: CourseProgress(0, 0) for course_id in course_ids}
    for pk, course_id in exercises:
        current = progress[course_id]
        done = current.done + (statuses[pk].state == "graded")
        progress[course_id] = CourseProgress(done, current.total + 1)
    return progress


@dataclass(frozen=True)
class SessionQuota:
    """What a learner's live kernels in one exercise draw on: their cohort in its course and
    that cohort's daily CPU-seconds (None: no limit)."""

    cohort: Cohort | None
    limit: int | None


def session_quota(*, learner: User, exercise_id: int) -> SessionQuota:
    """The learner's cohort in the exercise's course (their first enrollment there, any
    role) and its CPU limit: one or two queries, which callers may keep a while."""
    enrollment = (
        Enrollment.objects.filter(user=learner, cohort__course__modules__exercises=exercise_id)
        .select_related("cohort")
        .first()
    )
    cohort = enrollment.cohort if enrollment is not None else None
    limit = quota_limit(cohort=cohort, kind=QuotaKind.CPU_SECONDS) if cohort else None
    return SessionQuota(cohort=cohort, limit=limit)


def check_session_quota(*, learner: User, quota: SessionQuota) -> None:
    """Raise QuotaExceeded (its text is the message submitting gives) when the learner's
    cohort has no CPU-seconds left today: live kernels draw on the same daily quota as
    grading. Every run request asks (each cell is one): today's use is read every time."""
    if quota.cohort is not None and quota.limit is not None:
        quota_check(user=learner, cohort=quota.cohort, kind=QuotaKind.CPU_SECONDS,
                    limit=quota.limit)  # fmt: skip
