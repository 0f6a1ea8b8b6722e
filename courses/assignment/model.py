"""The internal exercise: one representation for nbgrader and otter-grader notebooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ANSWER = "answer"  # written by the learner, taken from the submission (autograded by tests)
    MANUAL = "manual"  # written by the learner, graded by a person (pending until then)
    TEST = "test"  # run in the trusted process, never in the learner's kernel
    TASK = "task"  # a prompt graded by a person (nbgrader task cell)
    LOCKED = "locked"  # the instructor's, read-only
    PLAIN = "plain"  # the instructor's; learners may edit their copy but grading uses this one
    ADDED = "added"  # a cell the learner added: run in their kernel with their answers


class Check(StrEnum):
    """How a test cell's outcome is read."""

    NBGRADER = "nbgrader"  # passes unless it raises; a numeric last value is partial credit
    OUTPUT = "output"  # otter: the last value must match the expected output (True if none)
    DOCTEST = "doctest"  # otter's OK-format test case: a doctest, each example's output checked


ANSWER_ROLES = frozenset({Role.ANSWER, Role.MANUAL})
READ_ONLY_ROLES = frozenset({Role.TEST, Role.LOCKED, Role.TASK})


def gettext_noop(message: str) -> str:
    """Marks a message for translation (makemessages extracts it); the page showing it
    translates it in the reader's language: this package has no Django and no language."""
    return message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a notebook; ``cell`` is the 0-based cell index when known.

    A page shows ``gettext(problem.template) % problem.args``; ``message`` is the English.
    """

    code: str  # stable identifier, for tests and filtering
    template: str
    cell: int | None = None
    args: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % dict(self.args)

    def __str__(self) -> str:
        where = f"cell {self.cell + 1}: " if self.cell is not None else ""
        return where + self.message


def problem(code: str, template: str, cell: int | None = None, **args: object) -> Problem:
    return Problem(code, template, cell, {k: str(v) for k, v in args.items()})


class ExerciseInvalid(ValueError):
    """The notebook cannot be imported; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ExerciseCell:
    index: int
    cell_type: str  # "code" | "markdown" | "raw"
    role: Role
    source: str  # the instructor's full source (solutions and hidden tests included)
    student_source: str  # what learners get
    grade_id: str | None = None
    points: float = 0.0  # maximum points of a test, manual answer or task
    hidden: bool = False  # holds hidden test code: learners never see its code or messages
    # Lines (1-based, of ``source``) that are hidden; empty with ``hidden`` means all of them.
    hidden_lines: frozenset[int] = frozenset()
    check: Check = Check.NBGRADER
    expected_output: str | None = None
    question: str | None = None
    messages: Mapping[str, str] = field(default_factory=dict)  # otter success/failure
    all_or_nothing: bool = False  # otter: the question's points only if all its tests pass
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def graded(self) -> bool:
        return self.role in (Role.TEST, Role.MANUAL, Role.TASK) and self.grade_id is not None


@dataclass(frozen=True)
class Exercise:
    format: str  # "nbgrader" | "otter"
    cells: tuple[ExerciseCell, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Run before each of the learner's code cells and test runs at grading (otter's
    # intercell seeding: ``generate: seed`` or a ``seed`` variable in the assignment config).
    cell_prelude: str = ""

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.cells if c.graded)

    @property
    def answer_cells(self) -> tuple[ExerciseCell, ...]:
        return tuple(c for c in self.cells if c.role in ANSWER_ROLES)

    @property
    def test_cells(self) -> tuple[ExerciseCell, ...]:
        return tuple(c for c in self.cells if c.role is Role.TEST)
