"""The pipeline: a submission's notebook run in a fresh sandboxed kernel, its tests in a
fresh trusted process, the outcomes scored.

No ORM here: it takes an exercise, a notebook, a kernel factory and limits, and returns a
frozen, JSON-serialisable report (courses.grading.scoring). The learner's cells run in the
kernel in notebook order; runs of consecutive test cells go to the trusted runner at their
place, so hidden tests never enter the learner's kernel.

What the learner's answer cells print and draw is kept for their graded notebook, except
after a hidden test has run: learner code called by a hidden test sees its inputs, and a
later cell could print them (or a buffered print could land there).
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from courses.assignment import (
    ANSWER_ROLES,
    Check,
    Exercise,
    ExerciseCell,
    Role,
    merge_submission,
    noted_missing_tests,
)
from courses.grading.scoring import GradeReport, Message, message, score_exercise
from sandbox import SandboxUserError
from sandbox.trusted import CheckCell, CheckResult, KernelLike, TrustedRunner

# A test whose cell the learner's notebook lacked (nbgrader does not run it): scores 0.
MISSING_CELL = "MissingCell"

DEFAULT_CELL_TIMEOUT_S = 30.0
DEFAULT_TOTAL_TIMEOUT_S = 120.0
# What the learner client's ModelServiceUnavailable says (its type crosses to the trusted
# side as a plain Exception, its message intact).
MODEL_SERVICE_DOWN = "the model service is restarting"
# nbgrader grades a notebook with NBGRADER_EXECUTION=autograde in its environment: courses
# read it to skip what only a person at the keyboard needs (an interactive main(), a slow
# import, plots), in their cells and in tests (which run in the trusted process).
NBGRADER_EXECUTION = "__import__('os').environ['NBGRADER_EXECUTION'] = 'autograde'"


class ModelServiceDown(Exception):
    """The run called a model while the model service was down: our fault, to be retried."""


def grade_notebook(
    *,
    source: Exercise,
    submission: Mapping[str, Any],
    kernel_factory: Callable[[], KernelLike],
    limits: Any = None,
    model_service_up: Callable[[], bool] = lambda: True,
) -> GradeReport:
    """Grade ``submission`` against ``source`` in a fresh kernel and a fresh trusted process.

    Answer cells come from the submission, everything else from ``source``. Code cells run
    in the kernel in notebook order; runs of consecutive test cells go to the trusted
    runner at their place. ``limits`` is ``sandbox.Limits`` (its timeouts are used here;
    the kernel factory applies the rest). The kernel is always destroyed.

    Raises ModelServiceDown when the learner's code met ModelServiceUnavailable and
    ``model_service_up()`` confirms the model service is down (so a learner cannot fake it).
    The tests the stored notebook notes as missing from the upload are not run: they score
    0, as under nbgrader (only ever fewer points).
    """
    exercise = merge_submission(exercise=source, submission=submission)
    missing = noted_missing_tests(submission)
    run = _execute(exercise, kernel_factory, limits, missing)
    for grade_id in missing:
        run.results[grade_id] = CheckResult(key=grade_id, passed=False, error_type=MISSING_CELL)
    if any(MODEL_SERVICE_DOWN in error for error in run.errors) and not model_service_up():
        raise ModelServiceDown("the model service was unavailable during grading")
    report = score_exercise(exercise=exercise, results=run.results, notes=tuple(run.notes))
    return replace(report, outputs=run.outputs)


class _Run:
    """What one grading run gathers, cell after cell."""

    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}
        self.notes: list[Message] = []
        self.errors: set[str] = set()  # the errors the learner's code raised ("Type: message")
        # The answer cells' outputs by grade id; None once a hidden test has run.
        self.outputs: dict[str, list[dict[str, Any]] | None] = {}
        self.hidden_test_ran = False

    def keeps_outputs(self, cell: ExerciseCell) -> bool:
        """Whether the learner will see this cell's outputs (in the graded notebook)."""
        return cell.role in ANSWER_ROLES and cell.grade_id is not None and not self.hidden_test_ran

    def keep_outputs(self, cell: ExerciseCell, outputs: tuple[dict[str, Any], ...]) -> None:
        if cell.role in ANSWER_ROLES and cell.grade_id is not None:
            self.outputs[cell.grade_id] = list(outputs) if self.keeps_outputs(cell) else None


def _execute(
    exercise: Exercise,
    kernel_factory: Callable[[], KernelLike],
    limits: Any,
    missing: frozenset[str] = frozenset(),
) -> _Run:
    cell_timeout = float(getattr(limits, "cell_timeout_s", DEFAULT_CELL_TIMEOUT_S))
    deadline = time.monotonic() + float(getattr(limits, "total_timeout_s", DEFAULT_TOTAL_TIMEOUT_S))
    run = _Run()
    kernel = kernel_factory()
    try:
        with TrustedRunner(kernel, cell_timeout_s=cell_timeout) as runner:
            if exercise.format == "nbgrader":
                if _environment(kernel).get("NBGRADER_EXECUTION") != "autograde":
                    kernel.execute(NBGRADER_EXECUTION, timeout=cell_timeout)
                runner.define(NBGRADER_EXECUTION)
            for group in _groups(exercise.cells):
                if time.monotonic() > deadline:
                    run.notes.append(message("out_of_time"))
                    break
                if group[0].role is Role.TEST:
                    run.hidden_test_ran |= any(c.hidden for c in group)
                    if exercise.cell_prelude and kernel.is_alive():
                        kernel.execute(exercise.cell_prelude, timeout=cell_timeout)
                    checks = [
                        CheckCell(
                            key=c.grade_id or "", code=c.source, doctest=c.check is Check.DOCTEST
                        )
                        for c in group
                        if c.grade_id not in missing
                    ]
                    for result in runner.run(checks) if checks else ():
                        run.results[result.key] = result
                        run.errors.add(f"{result.error_type}: {result.error_message}")
                elif not _run_in_kernel(
                    kernel,
                    _with_prelude(group[0], exercise.cell_prelude),
                    cell_timeout,
                    deadline,
                    run,
                ):
                    break
                elif group[0].role in (Role.LOCKED, Role.PLAIN):
                    definitions = instructor_definitions(group[0].source)
                    if definitions:
                        runner.define(definitions)
    finally:
        kernel.shutdown()
    return run


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


def _with_prelude(cell: ExerciseCell, prelude: str) -> ExerciseCell:
    if not prelude or cell.source.startswith("%%"):
        return cell
    return replace(cell, source=f"{prelude}\n{cell.source}")


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


def _environment(kernel: KernelLike) -> dict[str, str]:
    """What the kernel's environment held when it started, where its launcher knows it (a
    grading zygote's kernels start with NBGRADER_EXECUTION: one request fewer)."""
    environment = getattr(kernel, "environment", None)
    return environment if isinstance(environment, dict) else {}


def _run_in_kernel(
    kernel: KernelLike,
    cell: ExerciseCell,
    cell_timeout: float,
    deadline: float,
    run: _Run,
) -> bool:
    """Run one cell in the learner's kernel; False when the kernel is gone for good."""
    if not kernel.is_alive():
        run.notes.append(message("kernel_gone", cell=cell.index + 1))
        return False
    timeout = max(min(cell_timeout, deadline - time.monotonic()), 0.1)
    try:
        # A cell whose outputs nobody sees draws no figure: the same run, without the drawing.
        outcome = kernel.execute(cell.source, timeout=timeout, rich_outputs=run.keeps_outputs(cell))
    except SandboxUserError as exc:
        run.notes.append(message("cell_stopped", cell=cell.index + 1, reason=exc))
        return False
    status = getattr(outcome, "status", "ok")
    outputs = tuple(getattr(outcome, "outputs", ()) or ())
    run.errors.update(f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if "ename" in o)
    run.keep_outputs(cell, outputs)
    # As in the sandbox (and nbgrader), a limit ends the run: later tests are not run.
    if status == "timeout":
        run.notes.append(message("cell_timeout", cell=cell.index + 1, seconds=timeout))
        return False
    if status in ("killed", "dead", "not_run"):
        run.notes.append(message("cell_killed", cell=cell.index + 1))
        return False
    return True
