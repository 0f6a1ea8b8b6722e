"""Notebooks Otter Assign wrote: tests in the metadata or a tests folder, read (never run)
into test cells with otter's points; answers found by otter's tags."""

from __future__ import annotations

import base64
import json
import marshal
from pathlib import Path

import nbformat
import pytest

from courses.assignment import (
    Check,
    ExerciseInvalid,
    Role,
    parse_exercise,
    student_notebook,
    with_test_files,
)
from tests.support.otter import EXCEPTION_FILE, answer, check, md, ok_file, ok_test, otter_output


def solution(source: str, cell_type: str = "code") -> nbformat.NotebookNode:
    """A cell of the autograder version, which keeps the solutions."""
    tags = ["otter_assign_solution_cell"]
    if cell_type == "markdown":
        return md(source, tags=tags)
    return nbformat.v4.new_code_cell(source, metadata={"tags": tags})


def test_an_exception_based_tests_folder_is_read_into_cells_with_otters_settings() -> None:
    # given the student version and its tests folder
    notebook = otter_output(answer("x = ..."), check("q1"))
    folded, problems = with_test_files(notebook, {"q1.py": EXCEPTION_FILE})
    # when it is imported
    exercise = parse_exercise(data=folded)
    # then each @test_case is a test with its points, visibility and messages
    assert problems == []
    tests = {c.grade_id: c for c in exercise.test_cells}
    assert set(tests) == {"q1 - 1", "q1 - 2"}
    assert (tests["q1 - 1"].points, tests["q1 - 1"].hidden) == (2.0, False)
    assert tests["q1 - 1"].messages["failure_message"] == "This is not an int."
    assert tests["q1 - 2"].hidden and tests["q1 - 2"].student_source == ""
    assert tests["q1 - 1"].all_or_nothing and tests["q1 - 1"].check is Check.NBGRADER
    assert "@test_case" not in tests["q1 - 1"].source
    assert folded["metadata"]["otter"]["tests"]["q1"] == EXCEPTION_FILE


def test_an_ok_format_file_is_kept_as_the_dict_otter_would_put_in_the_metadata() -> None:
    test = ok_test("q1", [{"code": ">>> x\n2", "hidden": False, "locked": False}], points=3)
    folded, problems = with_test_files(
        otter_output(answer("x = ..."), check("q1")), {"q1.py": ok_file(test)}
    )
    assert problems == [] and folded["metadata"]["otter"] == {
        "tests": {"q1": test},
        "OK_FORMAT": True,
    }
    [cell] = parse_exercise(data=folded).test_cells
    assert (cell.check, cell.points, cell.source) == (Check.DOCTEST, 3.0, ">>> x\n2")


@pytest.mark.parametrize(
    "text",
    [
        "import os\nos.system('touch {marker}')\ntest = {{'name': 'q1', 'suites': []}}",
        "test = dict(name=open('{marker}', 'w').name, suites=[])",
        "OK_FORMAT = True\ntest = {{'name': 'q1', 'suites': [{{'cases': []}}]}}\n"
        "open('{marker}', 'w')",
        "from otter.test_files import test_case\nname = 'q1'\n"
        "@test_case(points=open('{marker}', 'w') and 1)\ndef test_x(x):\n    pass",
        "from otter.test_files import test_case\nname = 'q1'\n"
        "@test_case()\n@__import__('os').system('touch {marker}')\ndef test_x(x):\n    pass",
        "from otter.test_files import test_case\nname = 'q1'\n"
        "class Sneaky:\n    open('{marker}', 'w')\n",
    ],
)
def test_a_test_file_that_is_not_literal_data_is_refused_and_never_run(
    text: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    notebook = otter_output(answer("x = ..."), check("q1"))
    _, problems = with_test_files(notebook, {"q1.py": text.format(marker=marker)})
    assert [p.code for p in problems] == ["otter_test_file"]
    assert "test files are read, never run" in problems[0].message or "one doctest suite" in (
        problems[0].message
    )
    assert not marker.exists()


def test_a_check_of_a_test_the_notebook_lacks_is_reported() -> None:
    notebook = otter_output(answer("x = ..."), check("q1"), answer("y = ..."), check("q2"))
    folded, _ = with_test_files(notebook, {"q1.py": EXCEPTION_FILE})
    with pytest.raises(ExerciseInvalid) as caught:
        parse_exercise(data=folded)
    assert [p.code for p in caught.value.problems] == ["otter_test_missing"]
    assert "'q2'" in str(caught.value)


def test_the_autograder_version_gives_learners_the_student_version() -> None:
    # given the autograder version: solutions in tagged cells, a written solution
    notebook = otter_output(
        md("<!-- BEGIN QUESTION -->\n\n**Question 1.** Square it.\n\n_Points:_ 3"),
        solution("def square(x):\n    return x * x # SOLUTION"),
        check("q1"),
        md("<!-- END QUESTION -->\n\n<!-- BEGIN QUESTION -->\n\n**Question 2.** Why?"),
        answer("_Type your answer here, replacing this text._", "markdown"),
        solution("**SOLUTION**: because.", "markdown"),
        md("<!-- END QUESTION -->"),
        tests={"q1": ok_test("q1", [{"code": ">>> square(3)\n9", "hidden": True}], points=3)},
    )
    # when it is imported
    exercise = parse_exercise(data=notebook)
    # then learners get stubs, no written solution, and the unchecked question is manual
    learners = json.dumps(student_notebook(exercise=exercise))
    assert "x * x" not in learners and "because" not in learners and "square(3)" not in learners
    roles = {c.grade_id: (c.role, c.points) for c in exercise.cells if c.grade_id}
    assert roles == {
        "q1-answer-1": (Role.ANSWER, 0.0),
        "q1 - 1": (Role.TEST, 3.0),
        "manual-1": (Role.MANUAL, 1.0),  # no _Points:_ given: otter's 1
    }
    assert "grader.check" not in learners and "import otter" not in learners


def test_compiled_tests_in_the_metadata_are_refused_with_what_to_do() -> None:
    compiled = base64.b64encode(marshal.dumps(compile("name = 'q1'", "q1", "exec"))).decode()
    notebook = otter_output(answer("x = ..."), check("q1"), tests={"q1": compiled})
    with pytest.raises(ExerciseInvalid) as caught:
        parse_exercise(data=notebook)
    assert "compiled test code (base64), which is never loaded" in str(caught.value)


def test_a_malformed_doctest_or_an_unreadable_file_is_reported_not_raised() -> None:
    bad = ok_test("q1", [{"code": ">>>x\n2", "hidden": False}])
    nested = "test = " + "[" * 100_000 + "]" * 100_000
    notebook = otter_output(answer("x = ..."), check("q1"))
    _, problems = with_test_files(notebook, {"q1.py": ok_file(bad), "q2.py": nested})
    messages = [p.message for p in problems]
    assert "malformed doctest" in messages[0]
    assert messages[1].startswith("tests/q2.py is not Python")
