"""Scoring: trusted test outcomes in, points and messages out. Pure functions: no ORM, no
kernel, no clock, so they are tested without a database.

Scoring follows nbgrader where it makes sense: an error gives 0, a test's last numeric
value is partial credit, and (unlike nbgrader) a warning printed by a correct answer does
not zero it: only the trusted outcome counts, never what the kernel printed. A late
penalty and the points a person gave by hand are applied here too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from courses.assignment import Check, Exercise, ExerciseCell, Role
from courses.assignment.model import gettext_noop
from sandbox.trusted import CheckResult, numpy1_reprs

CENT = Decimal("0.01")


# What learners read, by key: an ItemResult keeps its key and arguments so that a page can
# show ``gettext(MESSAGES[key]) % args``; ``message`` is the English rendering.
MESSAGES = {
    "passed": gettext_noop("Passed"),
    "partial": gettext_noop("Partial credit: %(points)s of %(max_points)s points"),
    "not_graded": gettext_noop("Not graded: %(reason)s"),
    "hidden_raised": gettext_noop("A hidden test failed: your code raised %(error)s"),
    "raised": gettext_noop("Your code raised %(error)s"),
    "raised_message": gettext_noop("Your code raised %(error)s: %(detail)s"),
    "hidden_failed": gettext_noop("A hidden test failed"),
    "failed": gettext_noop("Test failed (%(error)s)"),
    "failed_message": gettext_noop("Test failed (%(error)s): %(detail)s"),
    "mismatch": gettext_noop("Test failed: expected %(expected)s, got %(actual)s"),
    "no_answer": gettext_noop("No answer given"),
    "test_missing": gettext_noop(
        "The cell of test %(test)s is missing from your notebook, so it was not run (nbgrader"
        " does the same); download the exercise again and copy your answers in"
    ),
    "all_or_nothing": gettext_noop(
        "Passed, but this question's points need every one of its tests to pass"
    ),
    "pending": gettext_noop("Waiting for a person to grade this answer"),
    "instructor": "%(text)s",  # the instructor's own words (otter's success/failure messages)
    "out_of_time": gettext_noop("The notebook ran out of time: later tests were not run."),
    "kernel_gone": gettext_noop("The notebook's kernel stopped before cell %(cell)s."),
    "cell_stopped": gettext_noop("Cell %(cell)s was stopped: %(reason)s"),
    "cell_timeout": gettext_noop(
        "Cell %(cell)s did not finish within %(seconds)s s: later cells and tests were not run."
    ),
    "cell_killed": gettext_noop(
        "Cell %(cell)s stopped the notebook's kernel: later cells and tests were not run."
    ),
}


@dataclass(frozen=True)
class Message:
    key: str
    args: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return MESSAGES[self.key] % dict(self.args)


def message(key: str, **args: object) -> Message:
    return Message(key, {name: _text(value) for name, value in args.items()})


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


TRACEBACK_MESSAGE_LIMIT = 2000
TRUE_REPRS = frozenset({"True", "np.True_", "numpy.True_"})


@dataclass(frozen=True)
class ItemResult:
    """One graded item (a test cell, or an answer waiting for a person)."""

    grade_id: str
    points: float
    max_points: float
    passed: bool | None  # None: waiting for a person
    status: str  # "passed" | "partial" | "failed" | "pending"
    message: str  # safe for learners: no hidden test code, no expected values (English)
    detail: str = ""  # instructors only: the error, traceback and what the test printed
    hidden: bool = False
    message_key: str = ""  # the message, to translate: MESSAGES[message_key] % message_args
    message_args: Mapping[str, str] = field(default_factory=dict)
    traceback: str = ""  # safe for learners: a visible test's failing lines and the error


@dataclass(frozen=True)
class GradeReport:
    score: float
    max_score: float
    pending_points: float  # points of items a person still has to grade
    tests: tuple[ItemResult, ...]
    notes: tuple[str, ...] = ()  # what happened to the learner's notebook (timeouts...)
    note_messages: tuple[Message, ...] = ()  # the same notes, to translate
    # What the learner's answer cells printed and drew, by grade id (None: withheld), kept
    # apart from the result (courses.models.SubmissionOutputs).
    outputs: Mapping[str, list[dict[str, Any]] | None] = field(default_factory=dict)

    def as_dict(self, *, instructor: bool = False) -> dict[str, Any]:
        """JSON-ready, without the outputs; without ``instructor`` the instructor-only
        detail is left out."""
        data = asdict(self)
        data.pop("outputs")
        if not instructor:
            for item in data["tests"]:
                item.pop("detail")
        return data


# ---------------------------------------------------------------- pure scoring


def score_check(*, cell: ExerciseCell, result: CheckResult) -> ItemResult:
    """Score one test cell from its trusted outcome."""
    assert cell.grade_id is not None
    if not result.passed:
        return _item(cell, 0.0, "failed", _failure_message(cell, result), result)
    success = cell.messages.get("success_message")
    passed = message("instructor", text=success) if success else message("passed")
    if cell.check is Check.OUTPUT:
        if _output_matches(cell.expected_output, _output(result)):
            return _item(cell, cell.points, "passed", passed, result)
        return _item(cell, 0.0, "failed", _mismatch_message(cell, result), result)
    if result.value is not None:
        points = min(max(result.value, 0.0), cell.points)
        if points < cell.points:
            said = message("partial", points=points, max_points=cell.points)
            return _item(cell, points, "partial", said, result)
    return _item(cell, cell.points, "passed", passed, result)


def score_pending(*, cell: ExerciseCell, answered: bool) -> ItemResult:
    """A manually graded answer or task: pending, or 0 when left as the stub (as nbgrader)."""
    assert cell.grade_id is not None
    if cell.role is Role.MANUAL and not answered:
        return _pending_item(cell, False, "failed", message("no_answer"))
    return _pending_item(cell, None, "pending", message("pending"))


def _pending_item(
    cell: ExerciseCell, passed: bool | None, status: str, said: Message
) -> ItemResult:
    assert cell.grade_id is not None
    return ItemResult(
        grade_id=cell.grade_id,
        points=0.0,
        max_points=cell.points,
        passed=passed,
        status=status,
        message=str(said),
        message_key=said.key,
        message_args=said.args,
    )


def score_exercise(
    *, exercise: Exercise, results: Mapping[str, CheckResult], notes: tuple[Message, ...] = ()
) -> GradeReport:
    """The report for a merged exercise; a test without a result failed (it never ran)."""
    items: list[ItemResult] = []
    for cell in exercise.cells:
        if not cell.graded or cell.grade_id is None:
            continue
        if cell.role is Role.TEST:
            result = results.get(cell.grade_id) or CheckResult(
                key=cell.grade_id,
                passed=False,
                error_type="NotRun",
                error_message="the notebook stopped before this test",
                from_learner=True,
            )
            items.append(score_check(cell=cell, result=result))
        else:
            items.append(score_pending(cell=cell, answered=cell.source != cell.student_source))
    items = _all_or_nothing(exercise, items)
    score = sum(i.points for i in items)
    pending = sum(i.max_points for i in items if i.status == "pending")
    return GradeReport(
        # Items are rounded to 6 places: three thirds must still add up to 1.
        score=round(score, 4),
        max_score=round(exercise.max_score, 6),
        pending_points=round(pending, 6),
        tests=tuple(items),
        notes=tuple(str(n) for n in notes),
        note_messages=notes,
    )


def _all_or_nothing(exercise: Exercise, items: list[ItemResult]) -> list[ItemResult]:
    """Otter's ``all_or_nothing`` questions: their tests earn points only if all pass."""
    tests = {c.grade_id: c for c in exercise.test_cells if c.all_or_nothing}
    failed = {tests[i.grade_id].question for i in items if i.grade_id in tests and not i.passed}
    said = message("all_or_nothing")
    return [
        replace(i, points=0.0, message=str(said), message_key=said.key, message_args=said.args)
        if i.grade_id in tests and i.passed and tests[i.grade_id].question in failed
        else i
        for i in items
    ]


def _item(
    cell: ExerciseCell, points: float, status: str, said: Message, result: CheckResult
) -> ItemResult:
    assert cell.grade_id is not None
    return ItemResult(
        grade_id=cell.grade_id,
        points=round(points, 6),
        max_points=cell.points,
        passed=status == "passed",
        status=status,
        message=str(said),
        detail=_detail(result),
        hidden=cell.hidden,
        message_key=said.key,
        message_args=said.args,
        traceback="" if status == "passed" else learner_traceback(cell, result),
    )


def _shows_hidden_code(cell: ExerciseCell, result: CheckResult) -> bool:
    """Whether the failure went through hidden test code (then its message stays hidden)."""
    if not cell.hidden:
        return False
    if not cell.hidden_lines or not result.lines:
        return True
    return any(line in cell.hidden_lines for line in result.lines)


def _failure_message(cell: ExerciseCell, result: CheckResult) -> Message:
    if result.error_type == "MissingCell":
        return message("test_missing", test=cell.grade_id)
    custom = cell.messages.get("failure_message")
    if custom:
        return message("instructor", text=custom)
    error, detail = result.error_type or "Error", result.error_message
    if error in ("KernelUnavailable", "NotRun"):
        return message("not_graded", reason=detail)
    hidden = _shows_hidden_code(cell, result)
    if result.from_learner:
        # A learner's exception message may carry a hidden test's inputs: type only then.
        if hidden:
            return message("hidden_raised", error=error)
        return (
            message("raised_message", error=error, detail=detail)
            if detail
            else message("raised", error=error)
        )
    if hidden:
        return message("hidden_failed")
    if detail:
        return message("failed_message", error=error, detail=detail)
    return message("failed", error=error)


def learner_traceback(cell: ExerciseCell, result: CheckResult) -> str:
    """The failing test's own lines and the error, as nbgrader shows them, when the test is
    visible to the learner: never a line of a hidden test, nor the trusted side's frames.

    Lines are numbered as the learner sees the cell (hidden parts left out).
    """
    if result.passed or not result.error_type or not result.lines:
        return ""
    if result.error_type in ("KernelUnavailable", "NotRun") or _shows_hidden_code(cell, result):
        return ""
    source = cell.source.splitlines()
    shown = []
    for line in result.lines:
        if not 0 < line <= len(source) or line in cell.hidden_lines:
            return ""
        visible = line - sum(1 for h in cell.hidden_lines if h < line)
        shown.append(f"  line {visible}\n    {source[line - 1].strip()}")
    error = result.error_type
    if result.error_message:
        error += f": {result.error_message[:TRACEBACK_MESSAGE_LIMIT]}"
    return "\n".join(["Traceback (the test's lines, most recent last):", *shown, error])


def _mismatch_message(cell: ExerciseCell, result: CheckResult) -> Message:
    if result.error_type == "MissingCell":
        return message("test_missing", test=cell.grade_id)
    custom = cell.messages.get("failure_message")
    if custom:
        return message("instructor", text=custom)
    if cell.hidden:
        return message("hidden_failed")
    return message("mismatch", expected=cell.expected_output or "True", actual=_output(result))


def _output(result: CheckResult) -> str | None:
    """What an otter test cell printed, then its value: what otter's doctest compares."""
    if not result.stdout:
        return result.value_repr
    return result.stdout + (result.value_repr or "")


def _plain_output(text: str) -> str:
    # numpy 2 shows its scalars as np.float64(1.5), np.True_: outputs saved with numpy 1
    # say 1.5 and True. A test's expected output is compared on the plain form.
    text = numpy1_reprs(text)
    return " ".join(text.split())


def _output_matches(expected: str | None, actual: str | None) -> bool:
    if expected is None:
        return actual is None or actual in TRUE_REPRS
    return actual is not None and _plain_output(expected) == _plain_output(actual)


def _detail(result: CheckResult) -> str:
    parts = [
        f"{result.error_type}: {result.error_message}" if result.error_type else "",
        result.traceback,
        f"printed:\n{result.stdout}" if result.stdout else "",
        f"value: {result.value_repr}" if result.value_repr is not None else "",
    ]
    return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------- late work, marking


def late_scores(*, score: float, penalty_percent: Decimal) -> tuple[Decimal, Decimal]:
    """(the score before the late penalty, the score kept after it): to the cent, never
    below zero. The one place a late penalty is applied to points."""
    raw = Decimal(str(round(score, 2)))
    kept = max(Decimal(0), Decimal(100) - penalty_percent) / Decimal(100)
    return raw, (raw * kept).quantize(CENT, rounding=ROUND_HALF_UP)


class HandGrade(Protocol):
    """Points and a comment a person gave one item (courses.models.ManualGrade)."""

    grade_id: str
    points: Decimal
    comment: str


def apply_manual_grades(*, result: dict[str, Any], grades: Iterable[HandGrade]) -> dict[str, Any]:
    """`result` with each manually graded item's points and comment in place."""
    by_id = {g.grade_id: g for g in grades}
    updated = copy.deepcopy(result)
    for item in updated.get("tests", []):
        grade = by_id.get(item.get("grade_id"))
        if grade is None:
            continue
        item["points"] = float(grade.points)
        item["status"] = "graded"
        item["passed"] = float(grade.points) >= float(item.get("max_points", 0))
        # The grader's own words replace "waiting for a person" wherever a learner reads it.
        item["message"] = grade.comment
        item["message_key"] = "instructor"
        item["message_args"] = {"text": grade.comment}
        item["manual"] = True
    updated["pending_points"] = sum(
        float(i.get("max_points", 0)) for i in updated.get("tests", []) if i["status"] == "pending"
    )
    updated["score"] = round(sum(float(i.get("points", 0)) for i in updated.get("tests", [])), 4)
    return updated
