"""Notebooks that Otter Assign wrote (its student and autograder versions): tests in the
notebook's metadata (``metadata.otter.tests``) or in a tests folder beside it, checked by
``grader.check("q1")`` cells.

Answer cells are tagged ``otter_answer_cell`` (the autograder version's
``otter_assign_solution_cell`` holds the solution, removed for learners as otter does). A
question's tests run where its ``grader.check`` cell is; tests the notebook never checks
run at its end, as otter's autograder does. A question between ``<!-- BEGIN QUESTION -->``
and ``<!-- END QUESTION -->`` with no check is graded by hand, worth its ``_Points:_``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from . import markers, ok_format, otter
from .model import ExerciseCell, Problem, Role, gettext_noop, problem

ANSWER_TAG = "otter_answer_cell"
SOLUTION_TAG = "otter_assign_solution_cell"
_INCLUDE_TAG = "otter_include"
_REGION = re.compile(r"<!--\s*(BEGIN|END) QUESTION\s*-->")
_POINTS = re.compile(r"_Points:_\s*([0-9]+(?:\.[0-9]+)?)")


def is_otter_output(notebook: dict[str, Any], cells: list[tuple[dict[str, Any], str]]) -> bool:
    """Tests in the metadata, or cells tagged as otter's answers."""
    if metadata_tests(notebook):
        return True
    return any(ANSWER_TAG in _tags(c) or SOLUTION_TAG in _tags(c) for c, _ in cells)


def metadata_tests(notebook: dict[str, Any]) -> dict[str, Any]:
    metadata = notebook.get("metadata")
    config = metadata.get("otter") if isinstance(metadata, dict) else None
    tests = config.get("tests") if isinstance(config, dict) else None
    return tests if isinstance(tests, dict) else {}


def with_test_files(
    notebook: dict[str, Any], files: dict[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    """The notebook with its tests folder (``{"q1.py": text}``) in its metadata, where
    Otter Assign also puts tests: the exercise is then one file. Tests already in the
    metadata are kept; a file's problems are reported, nothing of it is kept."""
    problems: list[Problem] = []
    tests = dict(metadata_tests(notebook))
    for filename, text in sorted(files.items()):
        spec = ok_format.file_spec(text, f"tests/{filename}", problems)
        if spec is not None:
            tests.setdefault(filename.removesuffix(".py"), spec)
    metadata = dict(notebook.get("metadata") or {})
    config = dict(metadata.get("otter") or {})
    ok = all(isinstance(spec, dict) for spec in tests.values())
    metadata["otter"] = {**config, "tests": tests, "OK_FORMAT": ok}
    return {**notebook, "metadata": metadata}, problems


def _tags(cell: dict[str, Any]) -> list[Any]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return tags if isinstance(tags, list) else []


@dataclass
class _Region:
    """A ``BEGIN QUESTION``/``END QUESTION`` region: manual unless it checks tests."""

    points: float = 1.0
    checked: bool = False
    answers: list[int] = field(default_factory=list)


def parse_cells(
    notebook: dict[str, Any], cells: list[tuple[dict[str, Any], str]], problems: list[Problem]
) -> list[ExerciseCell]:
    tests = _read_tests(notebook, problems)
    regions = _regions(cells)
    questions = _answer_questions(cells)
    manual_regions = [r for r in regions if not r.checked and r.answers]
    manual = {r.answers[0]: n for n, r in enumerate(manual_regions, 1)}
    points = {r.answers[0]: r.points for r in manual_regions}
    out: list[ExerciseCell] = []
    checked: set[str] = set()
    counts: dict[str, int] = {}
    for index, (cell, source) in enumerate(cells):
        if otter.is_ignored(source):
            continue
        names = _checked_names(cell, source)
        if names is not None:
            for name in names:
                if name in tests and name not in checked:
                    checked.add(name)
                    out += ok_format.test_cells(tests[name], index, problems)
            continue
        question = questions.get(index)
        answer = _answer(cell, source, index, question, counts, manual, points)
        if answer is not None:
            out.append(answer)
        elif not _is_solution_text(cell):
            out.append(ExerciseCell(index, str(cell.get("cell_type")), Role.PLAIN, source, source))
    for name, test in tests.items():
        if name not in checked:
            out += ok_format.test_cells(test, len(cells), problems)
    return out


def _read_tests(notebook: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    tests = {}
    for name, spec in metadata_tests(notebook).items():
        test = ok_format.read_spec(spec, f"metadata.otter.tests.{name}", problems)
        if test is not None:
            tests[str(name)] = test
    return tests


def _checked_names(cell: dict[str, Any], source: str) -> list[str] | None:
    """The questions an otter-only code cell checks (``grader.check("q1")``); None for any
    other cell."""
    if cell.get("cell_type") != "code" or not otter.runs_otter_only(source):
        return None
    names = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "check"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def _regions(cells: list[tuple[dict[str, Any], str]]) -> list[_Region]:
    regions: list[_Region] = []
    current: _Region | None = None
    for index, (cell, source) in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            for match in _REGION.finditer(source):
                current = _Region() if match[1] == "BEGIN" else None
                if current is not None:
                    regions.append(current)
                    found = _POINTS.search(source, match.end())
                    current.points = float(found[1]) if found else 1.0
        if current is None:
            continue
        names = _checked_names(cell, source)
        if names:
            current.checked = True
        elif _is_answer(cell):
            current.answers.append(index)
    return regions


def _answer_questions(cells: list[tuple[dict[str, Any], str]]) -> dict[int, str]:
    """Each answer cell's question: the first one the next check cell checks."""
    questions: dict[int, str] = {}
    waiting: list[int] = []
    for index, (cell, source) in enumerate(cells):
        names = _checked_names(cell, source)
        if names:
            questions.update(dict.fromkeys(waiting, names[0]))
            waiting = []
        elif _is_answer(cell):
            waiting.append(index)
    return questions


def _is_answer(cell: dict[str, Any]) -> bool:
    tags = _tags(cell)
    if ANSWER_TAG in tags:
        return True
    return SOLUTION_TAG in tags and cell.get("cell_type") == "code"


def _is_solution_text(cell: dict[str, Any]) -> bool:
    """The autograder version's written solution: never shown (unless ``otter_include``)."""
    tags = _tags(cell)
    return SOLUTION_TAG in tags and cell.get("cell_type") != "code" and _INCLUDE_TAG not in tags


def _answer(
    cell: dict[str, Any],
    source: str,
    index: int,
    question: str | None,
    counts: dict[str, int],
    manual: dict[int, int],
    points: dict[int, float],
) -> ExerciseCell | None:
    if not _is_answer(cell) or (_INCLUDE_TAG in _tags(cell) and cell.get("cell_type") != "code"):
        return None
    cell_type = str(cell.get("cell_type"))
    student = source
    if SOLUTION_TAG in _tags(cell):
        student = markers.otter_student_code(source)
    if index in manual:
        name = f"manual-{manual[index]}"
        return ExerciseCell(
            index, cell_type, Role.MANUAL, source, student,
            grade_id=name, points=points[index], question=name,
        )  # fmt: skip
    base = question or "answer"
    counts[base] = counts.get(base, 0) + 1
    return ExerciseCell(
        index, cell_type, Role.ANSWER, source, student,
        grade_id=f"{base}-answer-{counts[base]}", question=question,
    )  # fmt: skip


def unknown_checks(
    notebook: dict[str, Any], cells: list[tuple[dict[str, Any], str]]
) -> list[Problem]:
    """Check cells naming a test the notebook does not have (a tests folder left behind)."""
    tests = set(metadata_tests(notebook))
    found = []
    for index, (cell, source) in enumerate(cells):
        for name in _checked_names(cell, source) or []:
            if name not in tests:
                found.append(
                    problem(
                        "otter_test_missing",
                        gettext_noop(
                            "grader.check(%(name)s) names a test that is neither in the "
                            "notebook's metadata nor in its tests folder"
                        ),
                        index,
                        name=repr(name),
                    )
                )
    return found
