"""Cells a learner adds to their notebook: kept and run, as nbgrader does.

A learner may add cells (helpers, imports, working): they run in the learner's kernel
with their answers. Where they run is chosen so that they never open a new place for
learner code between two tests: right after the learner's answer cell they follow, or,
before any answer, just before the first answer or test cell. An added cell that stands
where an answer cell the notebook lacks would be (the answer's nbgrader metadata lost, as
Colab and copy-paste do) runs right after that answer's stub, as nbgrader runs it: there,
not before the stub, so the stub does not undo it. Instructor cells (tests, locked,
read-only, and unchanged copies of the others) always come from the source.

Where a cell runs is not where a person reads it: a learner answers a "task" cell in cells
they add under it, and whoever grades the task reads them there. Each added cell also keeps
the grade id of the instructor cell it was added under (``under``); only pages showing the
notebook use it, never grading, so a forged ``under`` moves a cell on a page and no more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .model import ANSWER_ROLES, Exercise, ExerciseCell, Role

ADDED_TYPES = ("code", "markdown")
# A stored notebook's metadata: the grade ids of the tests its upload lacked (nbgrader).
MISSING_TESTS = "missing_tests"


@dataclass(frozen=True)
class LearnerCell:
    """One cell of a learner's notebook that grading uses: an answer or an added cell."""

    cell_type: str
    source: str
    grade_id: str | None = None  # an answer's grade id; None for an added cell
    after: str | None = None  # added: the grade id of the answer it follows (None: none yet)
    under: str | None = None  # added: the grade id of the cell it was added under (None: top)


def learner_cells(*, exercise: Exercise, submission: Mapping[str, Any]) -> list[LearnerCell]:
    """The learner's answers (first cell per grade id) and added cells, in their order."""
    answer_ids = {c.grade_id for c in exercise.answer_cells if c.grade_id is not None}
    # Only learner code already runs there: a markdown answer opens no new place.
    code_ids = {c.grade_id for c in exercise.answer_cells if c.cell_type == "code"}
    known_ids = {c.grade_id for c in exercise.cells if c.grade_id is not None}
    instructors = {
        text.strip()
        for c in exercise.cells
        if c.role not in ANSWER_ROLES
        for text in (c.source, c.student_source)
    }
    found = _cells(submission)
    in_place_of = _missing_answers(exercise, {grade_id for _, _, grade_id in found})
    cells: list[LearnerCell] = []
    seen: set[str] = set()
    after: str | None = None
    under: str | None = None
    for cell_type, source, grade_id in found:
        if grade_id in known_ids:
            under = grade_id
        if grade_id in answer_ids and grade_id not in seen:
            seen.add(grade_id)
            cells.append(LearnerCell(cell_type, source, grade_id=grade_id))
            after = grade_id if grade_id in code_ids else after
        elif grade_id in known_ids or not source.strip() or source.strip() in instructors:
            continue  # an instructor's cell, or an answer given twice: the source's wins
        elif cell_type in ADDED_TYPES:
            runs_after = in_place_of.get(under, after)
            cells.append(LearnerCell(cell_type, source, after=runs_after, under=under))
    return cells


def _missing_answers(exercise: Exercise, present: set[str | None]) -> dict[str | None, str]:
    """The code answer cells a submission lacks, by the instructor cell just before them
    (None: no cell with a grade id before them); of several in a row, the last."""
    missing: dict[str | None, str] = {}
    before: str | None = None
    for cell in exercise.cells:
        if cell.grade_id is None:
            continue
        if cell.role in ANSWER_ROLES and cell.cell_type == "code" and cell.grade_id not in present:
            missing[before] = cell.grade_id
        else:
            before = cell.grade_id
    return missing


def _cells(submission: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = []
    cells = submission.get("cells") if isinstance(submission, Mapping) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, Mapping) or not isinstance(cell.get("metadata", {}), Mapping):
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        cell_type = cell.get("cell_type", "code")
        if not isinstance(source, str) or not isinstance(cell_type, str):
            continue
        meta = cell.get("metadata", {}).get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, Mapping) else None
        found.append((cell_type, source, grade_id if isinstance(grade_id, str) else None))
    return found


def with_added_cells(exercise: Exercise, cells: list[LearnerCell]) -> Exercise:
    """The exercise with the learner's added cells in place (see the module's docstring)."""
    added: dict[str | None, list[LearnerCell]] = {}
    for mine in cells:
        if mine.grade_id is None:
            added.setdefault(mine.after, []).append(mine)
    if not added:
        return exercise
    merged: list[ExerciseCell] = []
    leading = added.pop(None, [])
    for cell in exercise.cells:
        if leading and (cell.role in ANSWER_ROLES or cell.role is Role.TEST):
            merged.extend(_added(cell.index, c) for c in leading)
            leading = []
        merged.append(cell)
        if cell.role in ANSWER_ROLES and cell.cell_type == "code" and cell.grade_id in added:
            merged.extend(_added(cell.index, c) for c in added.pop(cell.grade_id))
    merged.extend(_added(len(exercise.cells), c) for c in leading)
    return replace(exercise, cells=tuple(merged))


def placed_added_cells(exercise: Exercise, cells: list[LearnerCell]) -> Exercise:
    """The exercise with the learner's added cells where they put them: under the cell
    they were added under (for people to read; grading runs ``with_added_cells``)."""
    added: dict[str | None, list[LearnerCell]] = {}
    for mine in cells:
        if mine.grade_id is None:
            added.setdefault(mine.under, []).append(mine)
    merged = [_added(0, c) for c in added.pop(None, [])]
    for cell in exercise.cells:
        merged.append(cell)
        merged.extend(_added(cell.index, c) for c in added.pop(cell.grade_id, []))
    # Under a cell this exercise no longer has (a forged or outdated grade id): at the end.
    merged.extend(_added(len(exercise.cells), c) for rest in added.values() for c in rest)
    return replace(exercise, cells=tuple(merged))


def _added(index: int, cell: LearnerCell) -> ExerciseCell:
    # Numbered as the instructor cell it follows: messages say "cell N" about a place
    # the instructor's notebook has.
    return ExerciseCell(
        index=index,
        cell_type=cell.cell_type,
        role=Role.ADDED,
        source=cell.source,
        student_source=cell.source,
    )


def missing_tests(*, exercise: Exercise, submission: Mapping[str, Any]) -> list[str]:
    """The tests of an nbgrader exercise that a learner's notebook lacks: no cell with the
    test's grade id in its nbgrader metadata (a deleted cell, or one that lost its metadata
    as Colab and copy-paste lose it). nbgrader's default (``OverwriteCells.add_missing_cells
    = False``) does not run them: they score 0. That holds for a test cell made wholly of
    hidden tests too: the student version keeps it, empty, as nbgrader's release does.
    Unlike nbgrader, a cell keeping the grade id but not the ``grade`` flag counts as
    present: the browser sends grade ids only."""
    if exercise.format != "nbgrader":
        return []
    present: set[str] = set()
    cells = submission.get("cells") if isinstance(submission, Mapping) else None
    for cell in cells if isinstance(cells, list) else []:
        metadata = cell.get("metadata") if isinstance(cell, Mapping) else None
        meta = metadata.get("nbgrader") if isinstance(metadata, Mapping) else None
        grade_id = meta.get("grade_id") if isinstance(meta, Mapping) else None
        if isinstance(grade_id, str):
            present.add(grade_id)
    return [c.grade_id for c in exercise.test_cells if c.grade_id and c.grade_id not in present]


def noted_missing_tests(submission: Mapping[str, Any]) -> frozenset[str]:
    """The missing tests ``stored_notebook`` noted (none in a notebook it did not write)."""
    metadata = submission.get("metadata") if isinstance(submission, Mapping) else None
    noted = metadata.get(MISSING_TESTS) if isinstance(metadata, Mapping) else None
    return (
        frozenset(i for i in noted if isinstance(i, str))
        if isinstance(noted, list)
        else frozenset()
    )


def stored_notebook(cells: list[LearnerCell], missing: list[str] | None = None) -> dict[str, Any]:
    """What a submission keeps of a learner's notebook: answers and added cells, in order
    (the exercise supplies every other cell when it is graded), and the tests its upload
    lacked (``missing_tests``; they are not run). An added cell under an instructor's cell
    is kept after an empty raw cell with that cell's grade id, so that ``learner_cells``
    reads back the same cells: answers, ``after`` and ``under``."""
    stored: list[dict[str, Any]] = []
    under: str | None = None
    for cell in cells:
        if cell.grade_id is None and cell.under not in (None, under):
            anchor = {"nbgrader": {"grade_id": cell.under}}
            stored.append({"cell_type": "raw", "metadata": anchor, "source": ""})
        under = cell.grade_id or cell.under or under
        metadata = {"nbgrader": {"grade_id": cell.grade_id}} if cell.grade_id else {}
        entry: dict[str, Any] = {"cell_type": cell.cell_type, "metadata": metadata}
        entry["source"] = cell.source
        if cell.cell_type == "code":
            entry.update(outputs=[], execution_count=None)
        stored.append(entry)
    noted: dict[str, Any] = {MISSING_TESTS: list(missing)} if missing else {}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": noted, "cells": stored}
