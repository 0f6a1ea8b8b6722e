"""Grading a submission: pure scoring functions and the pipeline that feeds them.

No ORM here: the pipeline takes an exercise, a notebook, a kernel factory and limits,
and returns a frozen, JSON-serialisable report. Scoring follows nbgrader where it makes
sense: an error gives 0, a test's last numeric value is partial credit, and (unlike
nbgrader) a warning printed by a correct answer does not zero it: only the trusted
outcome counts, never what the kernel printed.
"""

from __future__ import annotations

import ast
import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from courses.assignment import Check, Exercise, ExerciseCell, Role, merge_submission
from courses.assignment.model import gettext_noop
from sandbox.trusted import CheckCell, CheckResult, KernelLike, TrustedRunner


def _sandbox_user_errors() -> tuple[type[BaseException], ...]:
    """``sandbox.SandboxUserError``: the learner's code hit a limit (an outcome, not a bug)."""
    try:
        found = getattr(importlib.import_module("sandbox"), "SandboxUserError", None)
    except ImportError:
        return ()
    return (found,) if isinstance(found, type) and issubclass(found, BaseException) else ()


SANDBOX_USER_ERRORS = _sandbox_user_errors()


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


DEFAULT_CELL_TIMEOUT_S = 30.0
DEFAULT_TOTAL_TIMEOUT_S = 120.0
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


@dataclass(frozen=True)
class GradeReport:
    score: float
    max_score: float
    pending_points: float  # points of items a person still has to grade
    tests: tuple[ItemResult, ...]
    notes: tuple[str, ...] = ()  # what happened to the learner's notebook (timeouts...)
    note_messages: tuple[Message, ...] = ()  # the same notes, to translate

    def as_dict(self, *, instructor: bool = False) -> dict[str, Any]:
        """JSON-ready; without ``instructor`` the instructor-only detail is left out."""
        data = asdict(self)
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
    if cell.check is Check.OUTPUT:
        if _output_matches(cell.expected_output, result.value_repr):
            success = cell.messages.get("success_message")
            said = message("instructor", text=success) if success else message("passed")
            return _item(cell, cell.points, "passed", said, result)
        return _item(cell, 0.0, "failed", _mismatch_message(cell, result), result)
    if result.value is not None:
        points = min(max(result.value, 0.0), cell.points)
        if points < cell.points:
            said = message("partial", points=points, max_points=cell.points)
            return _item(cell, points, "partial", said, result)
    return _item(cell, cell.points, "passed", message("passed"), result)


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
    score = sum(i.points for i in items)
    pending = sum(i.max_points for i in items if i.status == "pending")
    return GradeReport(
        score=round(score, 6),
        max_score=round(exercise.max_score, 6),
        pending_points=round(pending, 6),
        tests=tuple(items),
        notes=tuple(str(n) for n in notes),
        note_messages=notes,
    )


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
    )


def _shows_hidden_code(cell: ExerciseCell, result: CheckResult) -> bool:
    """Whether the failure went through hidden test code (then its message stays hidden)."""
    if not cell.hidden:
        return False
    if not cell.hidden_lines or not result.lines:
        return True
    return any(line in cell.hidden_lines for line in result.lines)


def _failure_message(cell: ExerciseCell, result: CheckResult) -> Message:
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


def _mismatch_message(cell: ExerciseCell, result: CheckResult) -> Message:
    custom = cell.messages.get("failure_message")
    if custom:
        return message("instructor", text=custom)
    if cell.hidden:
        return message("hidden_failed")
    return message("mismatch", expected=cell.expected_output or "True", actual=result.value_repr)


def _output_matches(expected: str | None, actual: str | None) -> bool:
    if expected is None:
        return actual is None or actual in TRUE_REPRS
    return actual is not None and " ".join(expected.split()) == " ".join(actual.split())


def _detail(result: CheckResult) -> str:
    parts = [
        f"{result.error_type}: {result.error_message}" if result.error_type else "",
        result.traceback,
        f"printed:\n{result.stdout}" if result.stdout else "",
        f"value: {result.value_repr}" if result.value_repr is not None else "",
    ]
    return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------- the pipeline


def grade_notebook(
    *,
    source: Exercise,
    submission: Mapping[str, Any],
    kernel_factory: Callable[[], KernelLike],
    limits: Any = None,
) -> GradeReport:
    """Grade ``submission`` against ``source`` in a fresh kernel and a fresh trusted process.

    Answer cells come from the submission, everything else from ``source``. Code cells run
    in the kernel in notebook order; runs of consecutive test cells go to the trusted
    runner at their place. ``limits`` is ``sandbox.Limits`` (its timeouts are used here;
    the kernel factory applies the rest). The kernel is always destroyed.
    """
    exercise = merge_submission(exercise=source, submission=submission)
    results, notes = _execute(exercise, kernel_factory, limits)
    return score_exercise(exercise=exercise, results=results, notes=notes)


@dataclass(frozen=True)
class SolutionCheck:
    exercise: Exercise  # with the expected outputs its solution produced, where missing
    report: GradeReport  # the solution graded: every autograded point, if the tests agree


def exercise_check_solution(
    *, exercise: Exercise, kernel_factory: Callable[[], KernelLike], limits: Any = None
) -> SolutionCheck:
    """Grade the instructor's own solution, as Otter Assign does when it builds tests.

    An otter test with no stored output expects what it shows when run on the solution
    (when that is not simply True or None). The report says which tests the solution
    fails: worth showing an instructor before learners see the exercise.
    """
    results, notes = _execute(exercise, kernel_factory, limits)
    cells = tuple(_with_recorded_output(c, results.get(c.grade_id or "")) for c in exercise.cells)
    recorded = replace(exercise, cells=cells)
    report = score_exercise(exercise=recorded, results=results, notes=notes)
    return SolutionCheck(exercise=recorded, report=report)


def _with_recorded_output(cell: ExerciseCell, result: CheckResult | None) -> ExerciseCell:
    if cell.check is not Check.OUTPUT or cell.expected_output is not None or result is None:
        return cell
    if not result.passed or result.value_repr is None or result.value_repr in TRUE_REPRS:
        return cell
    return replace(cell, expected_output=result.value_repr)


def _execute(
    exercise: Exercise, kernel_factory: Callable[[], KernelLike], limits: Any
) -> tuple[dict[str, CheckResult], tuple[Message, ...]]:
    cell_timeout = float(getattr(limits, "cell_timeout_s", DEFAULT_CELL_TIMEOUT_S))
    deadline = time.monotonic() + float(getattr(limits, "total_timeout_s", DEFAULT_TOTAL_TIMEOUT_S))
    results: dict[str, CheckResult] = {}
    notes: list[Message] = []
    kernel = kernel_factory()
    try:
        with TrustedRunner(kernel, cell_timeout_s=cell_timeout) as runner:
            for group in _groups(exercise.cells):
                if time.monotonic() > deadline:
                    notes.append(message("out_of_time"))
                    break
                if group[0].role is Role.TEST:
                    checks = [CheckCell(key=c.grade_id or "", code=c.source) for c in group]
                    results.update((r.key, r) for r in runner.run(checks))
                elif not _run_in_kernel(kernel, group[0], cell_timeout, deadline, notes):
                    break
                elif group[0].role in (Role.LOCKED, Role.PLAIN):
                    definitions = instructor_definitions(group[0].source)
                    if definitions:
                        runner.define(definitions)
    finally:
        kernel.shutdown()
    return results, tuple(notes)


def instructor_definitions(source: str) -> str:
    """The top-level imports, functions and classes of an instructor's code cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept: list[ast.stmt] = [
        n
        for n in tree.body
        if isinstance(
            n, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        )
    ]
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else ""


def _groups(cells: tuple[ExerciseCell, ...]) -> Iterator[list[ExerciseCell]]:
    """Code cells one by one; consecutive test cells together (one trusted session)."""
    tests: list[ExerciseCell] = []
    for cell in cells:
        if cell.role is Role.TEST and cell.grade_id is not None:
            tests.append(cell)
            continue
        if tests:
            yield tests
            tests = []
        if cell.cell_type == "code" and cell.source.strip():
            yield [cell]
    if tests:
        yield tests


def _run_in_kernel(
    kernel: KernelLike,
    cell: ExerciseCell,
    cell_timeout: float,
    deadline: float,
    notes: list[Message],
) -> bool:
    """Run one cell in the learner's kernel; False when the kernel is gone for good."""
    if not kernel.is_alive():
        notes.append(message("kernel_gone", cell=cell.index + 1))
        return False
    timeout = max(min(cell_timeout, deadline - time.monotonic()), 0.1)
    try:
        outcome = kernel.execute(cell.source, timeout=timeout)
    except SANDBOX_USER_ERRORS as exc:
        notes.append(message("cell_stopped", cell=cell.index + 1, reason=exc))
        return False
    status = getattr(outcome, "status", "ok")
    # As in the sandbox (and nbgrader), a limit ends the run: later tests are not run.
    if status == "timeout":
        notes.append(message("cell_timeout", cell=cell.index + 1, seconds=timeout))
        return False
    if status in ("killed", "dead", "not_run"):
        notes.append(message("cell_killed", cell=cell.index + 1))
        return False
    return True
