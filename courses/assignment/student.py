"""The learner's side of an exercise: the student version, and merging a submission."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import nbformat

from . import otter, otter_output
from .added import learner_cells, placed_added_cells, with_added_cells
from .model import ANSWER_ROLES, READ_ONLY_ROLES, Exercise, ExerciseCell, Problem, Role


def student_notebook(*, exercise: Exercise) -> nbformat.NotebookNode:
    """Solutions replaced by stubs, hidden tests removed, tests and locked cells read-only.

    A test cell made wholly of hidden tests stays, empty, as nbgrader releases it: a
    notebook handed in without it misses that test (``missing_tests``), as under nbgrader.
    Outputs are never copied: an instructor's output can give an answer away.
    """
    cells = [_student_cell(c) for c in exercise.cells if _shown(exercise, c)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=dict(exercise.metadata))
    nbformat.validate(notebook)
    return notebook


def _shown(exercise: Exercise, cell: ExerciseCell) -> bool:
    """Whether the student version has the cell: all but otter's and the OK format's
    hidden test cases (their student versions never list them)."""
    return exercise.format == "nbgrader" or not (cell.hidden and not cell.student_source)


def _student_cell(cell: ExerciseCell) -> nbformat.NotebookNode:
    metadata: dict[str, Any] = {}
    if cell.grade_id is not None and cell.role is not Role.PLAIN:
        metadata["nbgrader"] = {
            "grade_id": cell.grade_id,
            "schema_version": 3,
            "task": cell.role is Role.TASK,
            "solution": cell.role in ANSWER_ROLES,
            "locked": cell.role in READ_ONLY_ROLES,
            "grade": cell.role in (Role.TEST, Role.MANUAL),
        }
        if cell.role in (Role.TEST, Role.MANUAL, Role.TASK):
            metadata["nbgrader"]["points"] = cell.points
    if cell.role in READ_ONLY_ROLES:
        metadata.update(editable=False, deletable=False)
    if cell.cell_type == "code":
        return nbformat.v4.new_code_cell(cell.student_source, metadata=metadata)
    if cell.cell_type == "markdown":
        return nbformat.v4.new_markdown_cell(cell.student_source, metadata=metadata)
    return nbformat.v4.new_raw_cell(cell.student_source, metadata=metadata)


def submitted_notebook(
    *, exercise: Exercise, submission: Mapping[str, Any]
) -> nbformat.NotebookNode:
    """The student version with the learner's answers, and the cells they added where they
    put them: what they handed in, never a hidden test or a solution."""
    notebook = student_notebook(exercise=exercise)
    mine = learner_cells(exercise=exercise, submission=submission)
    answers = {c.grade_id: c.source for c in mine if c.grade_id is not None}
    added: dict[str | None, list[nbformat.NotebookNode]] = {}
    for cell in mine:
        if cell.grade_id is None:
            make = (
                nbformat.v4.new_code_cell
                if cell.cell_type == "code"
                else nbformat.v4.new_markdown_cell
            )
            added.setdefault(cell.under, []).append(make(cell.source))
    cells = added.pop(None, [])
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
        cells.append(cell)
        cells.extend(added.pop(grade_id, []) if grade_id else [])
    cells.extend(c for rest in added.values() for c in rest)
    notebook.cells = cells
    return notebook


def submitted_answers(submission: Mapping[str, Any]) -> dict[str, str]:
    """The learner's answer sources by grade id (first cell wins; anything malformed skipped)."""
    answers: dict[str, str] = {}
    cells = submission.get("cells") if isinstance(submission, Mapping) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, Mapping) or not isinstance(cell.get("metadata"), Mapping):
            continue
        meta = cell["metadata"].get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, Mapping) else None
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if isinstance(grade_id, str) and isinstance(source, str):
            answers.setdefault(grade_id, source)
    return answers


def merge_submission(
    *, exercise: Exercise, submission: Mapping[str, Any], as_placed: bool = False
) -> Exercise:
    """The exercise with the learner's answer cells and added cells; every other cell is
    the instructor's.

    Answer cells are matched by grade id and keep the instructor's cell type; cells the
    learner added are kept where ``added`` runs them (``as_placed``: where the learner put
    them, for a person to read); editing or deleting any other cell changes nothing. A
    missing answer is the stub.
    """
    mine = learner_cells(exercise=exercise, submission=submission)
    answers = {c.grade_id: c.source for c in mine if c.grade_id is not None}
    if not answers and exercise.format == "otter":
        answers, mine = _otter_answers(submission), []
    cells = tuple(
        replace(c, source=answers.get(c.grade_id, c.student_source))
        if c.role in ANSWER_ROLES and c.grade_id is not None
        else c
        for c in exercise.cells
    )
    place = placed_added_cells if as_placed else with_added_cells
    return place(replace(exercise, cells=cells), mine)


def _otter_answers(submission: Mapping[str, Any]) -> dict[str, str]:
    """Answers of a notebook in otter's own format: the source (an instructor checking
    their solution) or the student version Otter Assign wrote, answered outside this
    platform (its answer cells are found by otter's tags; its tests are never read)."""
    problems: list[Problem] = []
    cells = submission.get("cells") if isinstance(submission, Mapping) else None
    pairs: list[tuple[dict[str, Any], str]] = []
    for cell in cells if isinstance(cells, list) else []:
        source = cell.get("source") if isinstance(cell, dict) else None
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            pairs.append((cell, source))
    if otter.is_otter(pairs):
        parsed = otter.parse_cells(pairs, problems)
    elif otter_output.is_otter_output({}, pairs):
        parsed = otter_output.parse_cells({}, pairs, problems)
    else:
        return {}
    return {c.grade_id: c.source for c in parsed if c.role in ANSWER_ROLES and c.grade_id}
