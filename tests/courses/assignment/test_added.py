"""Cells a learner adds: where they run, where people read them, what a submission keeps,
and forged notebooks that try to move, delete, edit or impersonate instructor cells."""

from __future__ import annotations

import json

import nbformat
import pytest

from courses.assignment import (
    Exercise,
    Role,
    learner_cells,
    merge_submission,
    missing_tests,
    noted_missing_tests,
    parse_exercise,
    stored_notebook,
    student_notebook,
    submitted_notebook,
)
from tests.support.exercises import (
    NOTEBOOKS,
    add_exercise,
    answered,
    metadata_lost,
    two_parts_exercise,
)

TASK = "sum_of_squares_application_task"


@pytest.fixture(scope="module")
def exercise():
    return parse_exercise(data=(NOTEBOOKS / "nbgrader_problem1.ipynb").read_bytes())


def student(exercise) -> dict:
    return json.loads(json.dumps(student_notebook(exercise=exercise)))


def grade_id(cell) -> str | None:
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def insert_after(notebook: dict, after: str, *cells) -> dict:
    at = next(i for i, c in enumerate(notebook["cells"]) if grade_id(c) == after)
    notebook["cells"][at + 1 : at + 1] = list(cells)
    return notebook


def under_task(exercise) -> dict:
    return insert_after(
        student(exercise),
        TASK,
        nbformat.v4.new_markdown_cell("A pyramid of $n$ layers of cannonballs."),
        nbformat.v4.new_code_cell("layers = sum_of_squares(4)"),
    )


def test_cells_added_under_a_task_are_read_under_it(exercise):
    merged = merge_submission(exercise=exercise, submission=under_task(exercise), as_placed=True)
    ids = [c.grade_id or c.role.value for c in merged.cells]
    at = ids.index(TASK)
    assert ids[at + 1 : at + 3] == ["added", "added"]
    assert merged.cells[at + 1].source == "A pyramid of $n$ layers of cannonballs."


def test_code_added_under_a_task_runs_after_the_last_code_answer_before_it(exercise):
    merged = merge_submission(exercise=exercise, submission=under_task(exercise))
    ids = [c.grade_id or c.role.value for c in merged.cells if c.cell_type == "code"]
    assert ids[ids.index("sum_of_squares") + 1] == "added"


def test_a_stored_submission_reads_back_the_same_cells_and_places(exercise):
    kept = learner_cells(exercise=exercise, submission=under_task(exercise))
    stored = json.loads(json.dumps(stored_notebook(kept)))
    assert learner_cells(exercise=exercise, submission=stored) == kept
    assert [c.under for c in kept if c.grade_id is None] == [TASK, TASK]
    # and the stored anchor holds no instructor text
    assert all(c["source"] == "" for c in stored["cells"] if c["cell_type"] == "raw")


def test_the_learners_notebook_has_their_added_cells_and_no_hidden_test(exercise):
    shown = submitted_notebook(exercise=exercise, submission=under_task(exercise))
    sources = [c.source for c in shown.cells]
    at = next(i for i, c in enumerate(shown.cells) if grade_id(c) == TASK)
    assert sources[at + 1 : at + 3] == [
        "A pyramid of $n$ layers of cannonballs.",
        "layers = sum_of_squares(4)",
    ]
    assert "BEGIN HIDDEN TESTS" not in json.dumps(shown)
    assert "squares(11)" not in json.dumps(shown)


def forged(exercise) -> dict:
    """A notebook that moves a test above its answer, deletes one, edits a locked cell and
    injects cells claiming nbgrader test and locked metadata (known and new grade ids)."""
    notebook = student(exercise)
    cells = notebook["cells"]
    by_id = {grade_id(c): c for c in cells}
    cells.remove(by_id["correct_squares"])
    cells.insert(0, by_id["correct_squares"])
    by_id["correct_squares"]["source"] = "pass"
    cells.remove(by_id["squares_invalid_input"])
    by_id["squares_prompt"]["source"] = "Anything goes."
    fake_test = nbformat.v4.new_code_cell("print('Passed')")
    fake_test["metadata"] = {
        "nbgrader": {"grade": True, "locked": True, "grade_id": "extra_points", "points": 99},
        "editable": False,
        "deletable": False,
    }
    fake_locked = nbformat.v4.new_code_cell("squares = lambda n: [i * i for i in range(1, n + 1)]")
    fake_locked["metadata"] = {"nbgrader": {"locked": True, "grade_id": "squares_prompt"}}
    cells.extend([fake_test, fake_locked])
    return notebook


def test_a_forged_notebook_changes_no_instructor_cell_and_adds_no_points(exercise):
    merged = merge_submission(exercise=exercise, submission=forged(exercise))
    instructors = [c for c in merged.cells if c.role is not Role.ADDED]
    originals = [c for c in exercise.cells if c.role not in (Role.ANSWER, Role.MANUAL)]
    assert [c for c in instructors if c.role not in (Role.ANSWER, Role.MANUAL)] == originals
    assert merged.max_score == exercise.max_score
    assert [c.grade_id for c in merged.test_cells] == [c.grade_id for c in exercise.test_cells]
    # the injected "test" is learner code, run where learner code runs: never as a test
    added = [c for c in merged.cells if c.role is Role.ADDED]
    assert [c.source for c in added] == ["print('Passed')"]
    assert all(c.grade_id is None and c.points == 0 for c in added)


def test_cells_under_a_cell_a_new_version_removed_are_kept_under_the_cell_before(exercise):
    # given a submission with cells under the task, and a new version without the task
    stored = stored_notebook(learner_cells(exercise=exercise, submission=under_task(exercise)))
    source = json.loads((NOTEBOOKS / "nbgrader_problem1.ipynb").read_text())
    source["cells"] = [c for c in source["cells"] if grade_id(c) != TASK]
    newer = parse_exercise(data=source)
    # then both cells are still shown, under the cell that came before the task
    shown = merge_submission(exercise=newer, submission=stored, as_placed=True)
    ids = [c.grade_id or c.role.value for c in shown.cells]
    at = ids.index("sum_of_squares_equation")
    assert ids[at + 1 : at + 3] == ["added", "added"]


def halve_without_metadata() -> tuple[Exercise, dict]:
    """Both parts answered; the second answer's cell lost its nbgrader metadata."""
    two_parts = parse_exercise(data=two_parts_exercise())
    learner = answered(
        json.loads(json.dumps(student_notebook(exercise=two_parts))),
        double="def double(x):\n    return x + x",
        halve="def halve(x):\n    return x * 0.5",
    )
    return two_parts, metadata_lost(learner, "halve")


def test_an_answer_that_lost_its_metadata_runs_after_the_stub_it_stands_for():
    two_parts, learner = halve_without_metadata()
    merged = merge_submission(exercise=two_parts, submission=learner)
    code = [(c.grade_id or c.role.value, c.source) for c in merged.cells if c.cell_type == "code"]
    ids = [grade_id for grade_id, _ in code]
    # the stub still runs (the answer is missing), then the learner's cell, then the test
    assert ids == ["double", "test_double", "halve", "added", "test_halve"]
    assert "NotImplementedError" in code[2][1]
    assert code[3][1] == "def halve(x):\n    return x * 0.5"


def test_a_stored_submission_keeps_where_an_answer_without_metadata_runs():
    two_parts, learner = halve_without_metadata()
    kept = learner_cells(exercise=two_parts, submission=learner)
    stored = json.loads(json.dumps(stored_notebook(kept)))
    assert learner_cells(exercise=two_parts, submission=stored) == kept
    assert [c.after for c in kept if c.grade_id is None] == ["halve"]


def test_a_cell_added_after_an_answer_that_is_there_runs_after_that_answer():
    # given both answers in place and a helper added under the second prompt
    two_parts = parse_exercise(data=two_parts_exercise())
    learner = answered(
        json.loads(json.dumps(student_notebook(exercise=two_parts))),
        double="def double(x):\n    return x + x",
        halve="def halve(x):\n    return x * 0.5",
    )
    learner = insert_after(learner, "ask_halve", nbformat.v4.new_code_cell("ONE_HALF = 0.5"))
    merged = merge_submission(exercise=two_parts, submission=learner)
    ids = [c.grade_id or c.role.value for c in merged.cells if c.cell_type == "code"]
    # then it runs where added cells always ran: after the answer before it, before its test
    assert ids == ["double", "added", "test_double", "halve", "test_halve"]


def test_a_test_cell_deleted_or_stripped_of_its_metadata_is_noted_missing_when_stored():
    # given the student version (every test a learner can have), and two uploads: one whose
    # test cell lost its metadata (Colab), one that deleted a test and claims none is missing
    two_parts = parse_exercise(data=two_parts_exercise())
    full = json.loads(json.dumps(student_notebook(exercise=two_parts)))
    stripped = metadata_lost(full, "test_halve")
    deleted = dict(full, metadata={"missing_tests": []})
    deleted["cells"] = [
        c
        for c in full["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_double"
    ]
    # then the tests they lack are found, as nbgrader finds them (by grade id)
    assert missing_tests(exercise=two_parts, submission=full) == []
    assert missing_tests(exercise=two_parts, submission=stripped) == ["test_halve"]
    assert missing_tests(exercise=two_parts, submission=deleted) == ["test_double"]
    # and what a submission stores notes them, whatever the upload's own metadata says
    for upload, missing in ((full, set()), (stripped, {"test_halve"}), (deleted, {"test_double"})):
        kept = learner_cells(exercise=two_parts, submission=upload)
        found = missing_tests(exercise=two_parts, submission=upload)
        stored = json.loads(json.dumps(stored_notebook(kept, found)))
        assert noted_missing_tests(stored) == missing
    assert noted_missing_tests(full) == frozenset()


def test_a_test_cell_wholly_hidden_is_kept_empty_and_missing_without_it_as_under_nbgrader():
    # given an exercise whose second test is hidden whole: nbgrader releases it as an empty
    # locked cell, and so does the student version
    add = parse_exercise(data=add_exercise())
    version = json.loads(json.dumps(student_notebook(exercise=add)))
    hidden = next(
        c
        for c in version["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_add_hidden"
    )
    assert hidden["source"] == ""
    assert hidden["metadata"]["nbgrader"]["locked"] and hidden["metadata"]["nbgrader"]["grade"]
    # then a learner's copy of it misses nothing, and a copy without that cell misses it
    assert missing_tests(exercise=add, submission=version) == []
    without = {**version, "cells": [c for c in version["cells"] if c is not hidden]}
    assert missing_tests(exercise=add, submission=without) == ["test_add_hidden"]
