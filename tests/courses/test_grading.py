"""Scoring rules (pure) and the grading pipeline on real kernels (local, unsandboxed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
import pytest

from courses.assignment import Check, ExerciseCell, Role, parse_exercise, student_notebook
from courses.grading import (
    MESSAGES,
    exercise_check_solution,
    grade_notebook,
    instructor_definitions,
    message,
    score_check,
    score_exercise,
    score_pending,
)
from sandbox.trusted import CheckResult
from tests.insecure_kernel import InsecureLocalKernel

NOTEBOOKS = Path(__file__).parent / "notebooks"
SQUARES = (
    "def squares(n):\n    if n < 1:\n        raise ValueError('n < 1')\n"
    "    return [i ** 2 for i in range(1, n + 1)]"
)
SUM_OF_SQUARES = "def sum_of_squares(n):\n    return sum(squares(n))"


@dataclass(frozen=True)
class Limits:
    cell_timeout_s: float = 10.0
    total_timeout_s: float = 60.0


def test_cell(points=1.0, *, hidden=False, check=Check.NBGRADER, expected=None, messages=None):
    return ExerciseCell(
        index=0,
        cell_type="code",
        role=Role.TEST,
        source="assert x",
        student_source="assert x",
        grade_id="t",
        points=points,
        hidden=hidden,
        check=check,
        expected_output=expected,
        messages=messages or {},
    )


test_cell.__test__ = False


def outcome(**fields) -> CheckResult:
    return CheckResult(key="t", **{"passed": True, **fields})


# ---------------------------------------------------------------- pure scoring


def test_a_test_that_runs_to_the_end_earns_its_points():
    item = score_check(cell=test_cell(2.0), result=outcome())
    assert (item.points, item.passed, item.status, item.message) == (2.0, True, "passed", "Passed")


def test_an_error_gives_zero():
    item = score_check(
        cell=test_cell(2.0),
        result=outcome(passed=False, error_type="AssertionError", error_message="expected 385"),
    )
    assert (item.points, item.passed) == (0.0, False)
    assert item.message == "Test failed (AssertionError): expected 385"


def test_a_numeric_last_value_is_partial_credit_within_zero_and_the_maximum():
    assert score_check(cell=test_cell(2.0), result=outcome(value=1.5)).points == 1.5
    assert score_check(cell=test_cell(2.0), result=outcome(value=1.5)).status == "partial"
    assert score_check(cell=test_cell(2.0), result=outcome(value=7.0)).points == 2.0
    assert score_check(cell=test_cell(2.0), result=outcome(value=-1.0)).points == 0.0


def test_a_hidden_tests_message_shows_neither_its_code_nor_expected_values():
    cell = test_cell(hidden=True)
    failed = score_check(
        cell=cell,
        result=outcome(
            passed=False,
            error_type="AssertionError",
            error_message="385 != 384",
            traceback="assert sum_of_squares(10) == 385",
        ),
    )
    raised = score_check(
        cell=cell,
        result=outcome(
            passed=False, error_type="ValueError", error_message="got 385", from_learner=True
        ),
    )
    for item in (failed, raised):
        assert "385" not in item.message
        assert "385" in item.detail  # the instructor's detail keeps it
    assert raised.message == "A hidden test failed: your code raised ValueError"


def test_a_failure_in_the_visible_part_of_a_partly_hidden_test_shows_its_message():
    cell = replace(test_cell(hidden=True), hidden_lines=frozenset({3, 4}))
    failure = {"passed": False, "error_type": "AssertionError", "error_message": "off by one"}
    visible = score_check(cell=cell, result=outcome(**failure, lines=(2,)))
    hidden = score_check(cell=cell, result=outcome(**failure, lines=(2, 3)))
    assert visible.message == "Test failed (AssertionError): off by one"
    assert hidden.message == "A hidden test failed"


def test_an_output_check_compares_the_trusted_value_with_the_expected_output():
    cell = test_cell(check=Check.OUTPUT, expected="5", messages={"success_message": "Yes"})
    assert score_check(cell=cell, result=outcome(value_repr="5")).message == "Yes"
    assert score_check(cell=cell, result=outcome(value_repr="6")).points == 0.0
    no_expected = test_cell(check=Check.OUTPUT)
    assert score_check(cell=no_expected, result=outcome(value_repr="True")).passed
    assert score_check(cell=no_expected, result=outcome(value_repr=None)).passed
    assert not score_check(cell=no_expected, result=outcome(value_repr="False")).passed


def test_manual_answers_are_pending_unless_left_as_the_stub():
    cell = ExerciseCell(
        index=0,
        cell_type="markdown",
        role=Role.MANUAL,
        source="",
        student_source="",
        grade_id="essay",
        points=3.0,
    )
    assert score_pending(cell=cell, answered=True).status == "pending"
    assert score_pending(cell=cell, answered=True).passed is None
    assert score_pending(cell=cell, answered=False).status == "failed"


def test_every_learner_message_can_be_translated_from_its_key_and_arguments(problem1):
    # given reports with passes, partial credit, failures, pending items and notes
    cell = test_cell(2.0)
    items = [
        score_check(cell=cell, result=outcome()),
        score_check(cell=cell, result=outcome(value=0.5)),
        score_check(
            cell=cell,
            result=outcome(
                passed=False, error_type="ValueError", error_message="bad", from_learner=True
            ),
        ),
        score_check(cell=test_cell(hidden=True), result=outcome(passed=False)),
    ]
    report = score_exercise(exercise=problem1, results={}, notes=(message("cell_killed", cell=3),))
    # then each English message is its template filled with its arguments
    for item in [*items, *report.tests]:
        assert MESSAGES[item.message_key] % dict(item.message_args) == item.message
    assert report.notes == (MESSAGES["cell_killed"] % {"cell": "3"},)
    json.dumps(report.as_dict())


def test_instructor_definitions_keep_only_imports_functions_and_classes():
    source = "import numpy as np\ndata = load()\ndef helper(x):\n    return x\nprint(1)"
    assert instructor_definitions(source) == "import numpy as np\n\ndef helper(x):\n    return x"
    assert instructor_definitions("%matplotlib inline") == ""


# ---------------------------------------------------------------- the pipeline


@pytest.fixture(scope="module")
def problem1():
    return parse_exercise(data=(NOTEBOOKS / "nbgrader_problem1.ipynb").read_bytes())


def submit(exercise, answers: dict[str, str]) -> dict:
    notebook = json.loads(json.dumps(student_notebook(exercise=exercise)))
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return notebook


def grade(exercise, submission, **limits):
    report = grade_notebook(
        source=exercise,
        submission=submission,
        kernel_factory=InsecureLocalKernel,
        limits=Limits(**limits),
    )
    return report, {t.grade_id: t.points for t in report.tests}


def test_the_documented_solution_earns_every_autograded_point(problem1):
    solution = json.loads((NOTEBOOKS / "nbgrader_problem1.ipynb").read_text())
    report, points = grade(problem1, solution)
    assert (report.score, report.max_score, report.pending_points) == (3.0, 6.0, 3.0)
    assert points["correct_squares"] == 1.0 and points["sum_of_squares_uses_squares"] == 0.5
    json.dumps(report.as_dict(instructor=True))


def test_the_untouched_student_version_earns_nothing(problem1):
    report, _ = grade(problem1, student_notebook(exercise=problem1))
    assert report.score == 0.0
    assert {t.status for t in report.tests} == {"failed", "pending"}


def test_an_answer_that_does_not_use_squares_loses_only_that_test(problem1):
    reimplemented = "def sum_of_squares(n):\n    return sum(i * i for i in range(1, n + 1))"
    report, points = grade(
        problem1, submit(problem1, {"squares": SQUARES, "sum_of_squares": reimplemented})
    )
    assert report.score == 2.5
    assert points["sum_of_squares_uses_squares"] == 0.0


def test_editing_or_deleting_test_cells_does_not_raise_the_score(problem1):
    wrong = "def squares(n):\n    return list(range(n))"
    honest, _ = grade(
        problem1, submit(problem1, {"squares": wrong, "sum_of_squares": SUM_OF_SQUARES})
    )
    cheat = submit(
        problem1,
        {
            "squares": wrong,
            "sum_of_squares": SUM_OF_SQUARES,
            "correct_squares": "pass",
            "correct_sum_of_squares": "pass",
        },
    )
    cheat["cells"] = [
        c
        for c in cheat["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") != "squares_invalid_input"
    ]
    cheated, _ = grade(problem1, cheat)
    assert cheated.score == honest.score == 0.5


def test_a_warning_printed_by_a_correct_answer_does_not_zero_it(problem1):
    warns = SQUARES.replace(
        "    return [",
        "    import warnings, sys\n"
        "    warnings.warn('deprecated', DeprecationWarning, stacklevel=1)\n"
        "    print('careful', file=sys.stderr)\n    return [",
    )
    report, _ = grade(
        problem1, submit(problem1, {"squares": warns, "sum_of_squares": SUM_OF_SQUARES})
    )
    assert report.score == 3.0


def test_an_answer_that_kills_the_kernel_fails_every_later_test(problem1):
    dies = SQUARES + "\nimport os\nos._exit(1)"
    report, _ = grade(
        problem1, submit(problem1, {"squares": dies, "sum_of_squares": SUM_OF_SQUARES})
    )
    assert report.score == 0.0
    assert any("stopped the notebook's kernel" in note for note in report.notes)


def test_an_answer_cell_that_never_ends_ends_the_run_with_a_note(problem1):
    loops = SQUARES + "\nwhile True:\n    pass"
    report, _ = grade(
        problem1,
        submit(problem1, {"squares": loops, "sum_of_squares": SUM_OF_SQUARES}),
        cell_timeout_s=5.0,  # ample for the notebook's other cells; this one never ends
    )
    assert report.score == 0.0
    assert any("did not finish within 5 s" in note for note in report.notes)
    assert {t.message for t in report.tests if t.status == "failed"} >= {
        "Not graded: the notebook stopped before this test"
    }


def test_learner_messages_never_show_hidden_test_code(problem1):
    # given an answer right on the visible tests only (n <= 2), wrong on the hidden ones
    only_visible = SQUARES.replace("range(1, n + 1)", "range(1, min(n, 2) + 1)")
    report, _ = grade(
        problem1, submit(problem1, {"squares": only_visible, "sum_of_squares": SUM_OF_SQUARES})
    )
    learner_view = json.dumps(report.as_dict())
    assert "squares(10)" not in learner_view and "385" not in learner_view
    assert "A hidden test failed" in learner_view
    assert "squares(10)" in json.dumps(report.as_dict(instructor=True))


def test_an_otter_notebook_is_graded_by_its_tests_and_points():
    exercise = parse_exercise(data=(NOTEBOOKS / "otter_demo.ipynb").read_bytes())
    solution = json.loads((NOTEBOOKS / "otter_demo.ipynb").read_text())
    report, points = grade(exercise, solution)
    assert (report.score, report.max_score, report.pending_points) == (5.0, 7.0, 2.0)
    wrong = submit(
        exercise,
        {
            "q1-answer-1": "x = 4\ndef square(y):\n    return abs(y) * y",
            "q2-answer-1": "arr = np.arange(5)",
        },
    )
    report, points = grade(exercise, wrong)
    assert points == {"q1 - 1": 1.0, "q1 - 2": 0.0, "q2 - 1": 1.0, "q2 - 2": 0.0, "q3": 0.0}


def test_an_exercise_can_be_graded_with_a_kernel_factory_and_no_limits(problem1):
    report = grade_notebook(
        source=problem1,
        submission=nbformat.from_dict(
            submit(problem1, {"squares": SQUARES, "sum_of_squares": SUM_OF_SQUARES})
        ),
        kernel_factory=InsecureLocalKernel,
    )
    assert report.score == 3.0


def test_checking_the_solution_records_the_outputs_otter_tests_expect():
    # given an otter notebook whose test `len(arr)` has no stored output
    source = json.loads((NOTEBOOKS / "otter_demo.ipynb").read_text())
    for cell in source["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
    exercise = parse_exercise(data=source)
    assert next(c for c in exercise.test_cells if c.grade_id == "q2 - 1").expected_output is None
    # when its solution is checked
    check = exercise_check_solution(
        exercise=exercise, kernel_factory=InsecureLocalKernel, limits=Limits()
    )
    # then the test expects what the solution shows, and the solution earns every point
    recorded = next(c for c in check.exercise.test_cells if c.grade_id == "q2 - 1")
    assert recorded.expected_output == "5"
    assert (check.report.score, check.report.pending_points) == (5.0, 2.0)
    wrong = submit(check.exercise, {"q2-answer-1": "arr = np.arange(4)"})
    assert grade(check.exercise, wrong)[1]["q2 - 1"] == 0.0
