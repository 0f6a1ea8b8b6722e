"""Reads for instructors: the gradebook of a cohort, its CSV export, and analytics.

Every selector runs a fixed number of queries, whatever the number of learners, exercises
or submissions. The grade kept for a learner on an exercise is their best or their last
graded attempt, by the course's rule (`Course.grade_rule`).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from campus.models import User
from campus.spreadsheets import Cell, csv_text
from courses.models import Cohort, Enrollment, EnrollmentRole, Exercise, GradeRule, Submission
from courses.models import SubmissionStatus as Status


@dataclass(frozen=True)
class GradeCell:
    submission_id: int
    score: Decimal | None
    max_score: Decimal | None
    status: str
    late: bool
    attempts: int
    needs_grading: bool  # free-response items wait for a person


@dataclass
class GradebookRow:
    learner: User
    cells: list[GradeCell | None] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((c.score or Decimal(0) for c in self.cells if c is not None), Decimal(0))

    @property
    def late(self) -> bool:
        return any(c is not None and c.late for c in self.cells)

    @property
    def missing(self) -> bool:
        return any(c is None for c in self.cells)


@dataclass(frozen=True)
class Gradebook:
    cohort: Cohort
    exercises: list[Exercise]
    rows: list[GradebookRow]

    @property
    def total_points(self) -> Decimal:
        return sum((e.points for e in self.exercises), Decimal(0))


def course_exercises(*, cohort: Cohort) -> list[Exercise]:
    """The course's exercises in outline order (one query)."""
    return list(
        Exercise.objects.filter(module__course_id=cohort.course_id)
        .order_by("module__position", "module_id", "position", "id")
        .only("id", "slug", "title", "points", "module_id", "position", "due_at")
    )


def cohort_learners(*, cohort: Cohort, query: str = "") -> list[User]:
    enrollments = Enrollment.objects.filter(cohort=cohort, role=EnrollmentRole.STUDENT)
    if query:
        enrollments = enrollments.filter(
            Q(user__name__icontains=query) | Q(user__email__icontains=query)
        )
    return [
        e.user for e in enrollments.select_related("user").order_by("user__name", "user__email")
    ]


KEPT_FIELDS = (
    "id",
    "learner_id",
    "exercise_id",
    "status",
    "score",
    "max_score",
    "late_days",
    "result__pending_points",
)


def kept_submissions(*, cohort: Cohort) -> dict[tuple[int, int], GradeCell]:
    """(learner id, exercise id) → the attempt that counts, with the number of attempts."""
    rows = Submission.objects.filter(cohort=cohort).values_list(*KEPT_FIELDS)
    rank = _RANKS[cohort.course.grade_rule]
    attempts: Counter[tuple[int, int]] = Counter()
    kept: dict[tuple[int, int], tuple[Any, ...]] = {}
    for row in rows:
        key = (row[1], row[2])
        attempts[key] += 1
        if key not in kept or rank(row) > rank(kept[key]):
            kept[key] = row
    return {key: _cell(row, attempts[key]) for key, row in kept.items()}


def kept_submission(
    *, cohort_id: int, learner_id: int, exercise_id: int, rule: str
) -> GradeCell | None:
    """The attempt that counts for one learner on one exercise, by `rule` (a GradeRule)."""
    rows = list(
        Submission.objects.filter(
            cohort_id=cohort_id, learner_id=learner_id, exercise_id=exercise_id
        ).values_list(*KEPT_FIELDS)
    )
    if not rows:
        return None
    return _cell(max(rows, key=_RANKS[rule]), len(rows))


def _cell(row: tuple[Any, ...], attempts: int) -> GradeCell:
    return GradeCell(
        submission_id=row[0],
        score=row[4],
        max_score=row[5],
        status=row[3],
        late=row[6] > 0,
        attempts=attempts,
        needs_grading=bool(row[7]),
    )


def _best(row: tuple[Any, ...]) -> tuple[bool, Decimal, int]:
    """A graded attempt beats an ungraded one; then the higher score; then the later one."""
    return (row[3] == Status.GRADED, row[4] if row[4] is not None else Decimal(-1), row[0])


def _last(row: tuple[Any, ...]) -> tuple[bool, int]:
    """A graded attempt beats an ungraded one; then the later one (an attempt still being
    graded does not replace the last graded one until it is graded)."""
    return (row[3] == Status.GRADED, row[0])


_RANKS: dict[str, Any] = {GradeRule.BEST: _best, GradeRule.LAST: _last}


def attempt_rank(rule: str) -> Any:
    """The key that orders attempts by `rule` (a GradeRule): the kept one ranks highest.
    Rows are (id, learner id, exercise id, status, score, ...)."""
    return _RANKS[rule]


def cohort_gradebook(
    *,
    cohort: Cohort,
    query: str = "",
    only_late: bool = False,
    only_missing: bool = False,
    exercise_id: int | None = None,
) -> Gradebook:
    """Learners by exercises (three queries). Filters: a search on name or e-mail, learners
    with late work, learners with missing work, one exercise."""
    exercises = course_exercises(cohort=cohort)
    if exercise_id is not None:
        exercises = [e for e in exercises if e.pk == exercise_id]
    cells = kept_submissions(cohort=cohort)
    rows = [
        GradebookRow(learner=learner, cells=[cells.get((learner.pk, e.pk)) for e in exercises])
        for learner in cohort_learners(cohort=cohort, query=query)
    ]
    if only_late:
        rows = [r for r in rows if r.late]
    if only_missing:
        rows = [r for r in rows if r.missing]
    return Gradebook(cohort=cohort, exercises=exercises, rows=rows)


def gradebook_rows(*, gradebook: Gradebook) -> list[list[Cell]]:
    """The gradebook in the layout Canvas's gradebook import reads: Student, ID, SIS User
    ID, SIS Login ID, Section, one column per assignment, and a "Points Possible" row.
    Learners are matched on SIS Login ID (their e-mail); unknown columns become new
    assignments in Canvas. Written with campus.spreadsheets, which neutralises every cell."""
    header: list[Cell] = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    points: list[Cell] = ["Points Possible", "", "", "", ""]
    rows = [
        header + [e.title for e in gradebook.exercises],
        points + [_plain(e.points) for e in gradebook.exercises],
    ]
    for row in gradebook.rows:
        scores = [_plain(c.score) if c and c.score is not None else "" for c in row.cells]
        rows.append(
            [
                row.learner.name or row.learner.email,
                "",
                "",
                row.learner.email,
                gradebook.cohort.name,
                *scores,
            ]
        )
    return rows


def gradebook_csv(*, gradebook: Gradebook) -> str:
    return csv_text(gradebook_rows(gradebook=gradebook))


def _plain(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}"


# ------------------------------------------------------------------------- analytics


@dataclass(frozen=True)
class Analytics:
    distribution: list[int]  # kept attempts per tenth of the score (0-10 %, ..., 90-100 %)
    pass_rates: list[tuple[str, int, int]]  # (test grade id, passed, attempted)
    per_day: list[tuple[date, int]]  # submissions per day


def cohort_analytics(*, cohort: Cohort, exercise: Exercise | None = None) -> Analytics:
    """Score distribution, pass rate per test (the kept attempts) and submissions per day."""
    kept = kept_submissions(cohort=cohort)
    if exercise is not None:
        kept = {k: v for k, v in kept.items() if k[1] == exercise.pk}
    distribution = _distribution(kept.values())
    kept_ids = [c.submission_id for c in kept.values() if c.status == Status.GRADED]
    results = Submission.objects.filter(pk__in=kept_ids).values_list("result", flat=True)
    passed: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    for result in results:
        for test in (result or {}).get("tests", []):
            if test.get("status") in ("pending", "graded"):
                continue  # graded by a person: not a test
            tried[test["grade_id"]] += 1
            passed[test["grade_id"]] += bool(test.get("passed"))
    days = Submission.objects.filter(cohort=cohort)
    if exercise is not None:
        days = days.filter(exercise=exercise)
    per_day = (
        days.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    return Analytics(
        distribution=distribution,
        pass_rates=[(gid, passed[gid], tried[gid]) for gid in sorted(tried)],
        per_day=[(row["day"], row["n"]) for row in per_day],
    )


def _distribution(cells: Any) -> list[int]:
    bins = [0] * 10
    for cell in cells:
        if cell.status == Status.GRADED and cell.max_score:
            share = float((cell.score or 0) / cell.max_score)
            bins[min(9, int(share * 10))] += 1
    return bins
