"""Scoring rules: pure functions, tested without a database or a kernel."""

from __future__ import annotations

import json
from dataclasses import replace

from courses.assignment import Check, Exercise, ExerciseCell, Role
from courses.grading.scoring import (
    MESSAGES,
    message,
    score_check,
    score_exercise,
    score_pending,
)
from sandbox.trusted import CheckResult


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


def test_a_failing_visible_test_shows_its_failing_line_and_the_error():
    cell = replace(test_cell(), source="x = squares(3)\nassert x == [1, 4, 9]")
    failed = outcome(passed=False, error_type="AssertionError", lines=(2,))
    assert score_check(cell=cell, result=failed).traceback == (
        "Traceback (the test's lines, most recent last):\n"
        "  line 2\n    assert x == [1, 4, 9]\n"
        "AssertionError"
    )


def test_a_helper_defined_in_the_test_shows_both_lines_and_the_learners_error():
    cell = replace(test_cell(), source="def check(n):\n    return f(n) == 1\nassert check(2)")
    failed = outcome(
        passed=False,
        error_type="ValueError",
        error_message="bad n",
        from_learner=True,
        lines=(3, 2),
    )
    text = score_check(cell=cell, result=failed).traceback
    assert text.splitlines()[1:] == [
        "  line 3",
        "    assert check(2)",
        "  line 2",
        "    return f(n) == 1",
        "ValueError: bad n",
    ]


def test_a_hidden_test_shows_no_traceback():
    failed = outcome(passed=False, error_type="AssertionError", error_message="42", lines=(1,))
    assert score_check(cell=test_cell(hidden=True), result=failed).traceback == ""


def test_lines_after_a_hidden_part_are_numbered_as_the_learner_sees_them():
    source = "a = 1\nsecret = 2\nassert f(a) == 3"
    cell = replace(test_cell(hidden=True), source=source, hidden_lines=frozenset({2}))
    visible_failure = outcome(passed=False, error_type="AssertionError", lines=(3,))
    hidden_failure = outcome(passed=False, error_type="AssertionError", lines=(2,))
    assert (
        "  line 2\n    assert f(a) == 3" in score_check(cell=cell, result=visible_failure).traceback
    )
    assert score_check(cell=cell, result=hidden_failure).traceback == ""


def test_numpy_2_scalars_match_outputs_saved_with_numpy_1():
    for expected, actual in [
        ("True", "np.True_"),
        ("1.5", "np.float64(1.5)"),
        ("(3, 4)", "(np.int64(3), np.int64(4))"),
    ]:
        cell = test_cell(check=Check.OUTPUT, expected=expected)
        assert score_check(cell=cell, result=outcome(value_repr=actual)).passed
    cell = test_cell(check=Check.OUTPUT, expected="True")
    assert not score_check(cell=cell, result=outcome(value_repr="np.False_")).passed


def test_what_a_test_printed_is_part_of_its_output():
    cell = test_cell(check=Check.OUTPUT, expected="5\n")
    assert score_check(cell=cell, result=outcome(stdout="5\n")).passed
    assert not score_check(cell=cell, result=outcome(stdout="4\n")).passed
    assert not score_check(cell=cell, result=outcome(value_repr=None)).passed


def test_three_thirds_of_a_point_add_up_to_one():
    cells = tuple(replace(test_cell(1 / 3), grade_id=f"t{i}", index=i) for i in range(3))
    results = {c.grade_id: outcome() for c in cells}
    report = score_exercise(exercise=Exercise(format="otter", cells=cells), results=results)
    assert (report.score, report.max_score) == (1.0, 1.0)
