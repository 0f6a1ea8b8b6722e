"""Reading nbgrader and otter notebooks, the student version, and merging submissions."""

from __future__ import annotations

import copy
import itertools
import json

import nbformat
import pytest

from courses.assignment import (
    Check,
    ExerciseInvalid,
    Role,
    merge_submission,
    parse_exercise,
    student_notebook,
)
from tests.support.exercises import NOTEBOOKS, two_parts_exercise


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text())


def problems_of(data) -> list[tuple[str, int | None]]:
    with pytest.raises(ExerciseInvalid) as caught:
        parse_exercise(data=data)
    return [(p.code, p.cell) for p in caught.value.problems]


def graded(exercise) -> dict[str, tuple[Role, float, bool]]:
    return {
        c.grade_id: (c.role, c.points, c.hidden)
        for c in exercise.cells
        if c.grade_id and c.role is not Role.LOCKED
    }


# ---------------------------------------------------------------- nbgrader


def test_it_reads_nbgraders_documented_example():
    exercise = parse_exercise(data=(NOTEBOOKS / "nbgrader_problem1.ipynb").read_bytes())
    assert exercise.format == "nbgrader"
    assert graded(exercise) == {
        "squares": (Role.ANSWER, 0.0, False),
        "correct_squares": (Role.TEST, 1.0, True),
        "squares_invalid_input": (Role.TEST, 1.0, False),
        "sum_of_squares": (Role.ANSWER, 0.0, False),
        "correct_sum_of_squares": (Role.TEST, 0.5, True),
        "sum_of_squares_uses_squares": (Role.TEST, 0.5, False),
        "sum_of_squares_equation": (Role.MANUAL, 1.0, False),
        "sum_of_squares_application_task": (Role.TASK, 2.0, False),
        "sum_of_squares_application": (Role.ANSWER, 0.0, False),
    }
    assert exercise.max_score == 6.0


def test_hidden_tests_stay_in_the_instructors_version_without_their_markers():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    test = next(c for c in exercise.cells if c.grade_id == "correct_squares")
    assert "assert squares(11) ==" in test.source
    assert "HIDDEN TESTS" not in test.source


def test_it_knows_which_lines_of_a_test_are_hidden():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    test = next(c for c in exercise.cells if c.grade_id == "correct_squares")
    lines = test.source.splitlines()
    assert {lines[n - 1].split("(")[0] for n in test.hidden_lines} == {"assert squares"}
    assert sorted(test.hidden_lines) == [4, 5]


def test_it_upgrades_older_nbgrader_schemas():
    exercise = parse_exercise(data=load("nbgrader_problem1_old_schemas.ipynb"))
    assert graded(exercise) == {
        key: value
        for key, value in graded(parse_exercise(data=load("nbgrader_problem1.ipynb"))).items()
        if key != "sum_of_squares_application_task"
    }


def test_it_reports_every_problem_with_its_cell():
    assert sorted(problems_of(load("nbgrader_many_problems.ipynb")), key=str) == sorted(
        [
            ("unbalanced_marker", 6),
            ("points_missing", 11),
            ("markdown_grade_solution", 14),
            ("duplicate_grade_id", 8),
        ],
        key=str,
    )


def test_it_rejects_text_that_is_not_json():
    assert problems_of(b'{"cells": [') == [("invalid_json", None)]


def test_it_rejects_notebooks_older_than_nbformat_4():
    assert problems_of({"nbformat": 3, "worksheets": []}) == [("nbformat_too_old", None)]


def test_it_rejects_a_notebook_without_answer_cells():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert problems_of(notebook) == [("no_answer_cells", None)]


def test_it_reports_missing_grade_ids_and_invalid_points_and_cells():
    notebook = load("nbgrader_problem1.ipynb")
    notebook["cells"][2]["metadata"]["nbgrader"]["grade_id"] = ""
    notebook["cells"][5]["metadata"]["nbgrader"]["points"] = "many"
    notebook["cells"][6]["metadata"]["nbgrader"]["grade"] = "yes"
    notebook["cells"][7] = {"cell_type": "sorcery"}
    assert sorted(problems_of(notebook), key=str) == sorted(
        [
            ("grade_id_missing", 2),
            ("points_invalid", 5),
            ("bad_flag", 6),
            ("invalid_cell", 7),
        ],
        key=str,
    )


def test_the_student_version_has_stubs_instead_of_solutions():
    student = student_notebook(exercise=parse_exercise(data=load("nbgrader_problem1.ipynb")))
    squares = next(
        c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "squares"
    )
    assert "raise NotImplementedError()" in squares.source
    assert "range(1, n + 1)" not in squares.source
    assert squares.source.startswith("def squares(n):")
    text = json.dumps(student)
    assert "$\\\\sum_{i=1}^n i^2$" not in text and "YOUR ANSWER HERE" in text


def test_the_student_version_has_no_hidden_tests_no_mark_scheme_and_no_outputs():
    source = load("nbgrader_problem1.ipynb")
    source["cells"][4]["outputs"] = [nbformat.v4.new_output("stream", text="OUTPUT-SECRET")]
    student = student_notebook(exercise=parse_exercise(data=source))
    for cell in student.cells:
        del cell["id"]  # random hex: "9339b506" once failed this test
    text = json.dumps(student)
    for secret in ("squares(11)", "506", "HIDDEN", "MARK SCHEME", "variance", "OUTPUT-SECRET"):
        assert secret not in text


def test_tests_and_locked_cells_are_read_only_in_the_student_version():
    student = student_notebook(exercise=parse_exercise(data=load("nbgrader_problem1.ipynb")))
    by_id = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata
        for c in student.cells
        if "nbgrader" in c.metadata
    }
    for grade_id in ("correct_squares", "squares_prompt", "sum_of_squares_application_task"):
        assert by_id[grade_id]["editable"] is False and by_id[grade_id]["deletable"] is False
    assert "editable" not in by_id["squares"]


# ---------------------------------------------------------------- otter


def test_it_reads_an_otter_assign_v1_notebook():
    exercise = parse_exercise(data=load("otter_demo.ipynb"))
    assert exercise.format == "otter"
    assert graded(exercise) == {
        "q1-answer-1": (Role.ANSWER, 0.0, False),
        "q1 - 1": (Role.TEST, 1.0, False),
        "q1 - 2": (Role.TEST, 1.0, True),
        "q2-answer-1": (Role.ANSWER, 0.0, False),
        "q2 - 1": (Role.TEST, 1.0, False),
        "q2 - 2": (Role.TEST, 2.0, True),
        "q3": (Role.MANUAL, 2.0, False),
    }
    tests = {c.grade_id: c for c in exercise.test_cells}
    assert tests["q2 - 1"].check is Check.OUTPUT and tests["q2 - 1"].expected_output == "5"
    assert tests["q2 - 1"].messages == {"success_message": "Right length!"}
    assert tests["q2 - 1"].source.strip() == "len(arr)"


def test_the_otter_student_version_follows_otters_solution_removal_rules():
    text = json.dumps(student_notebook(exercise=parse_exercise(data=load("otter_demo.ipynb"))))
    for gone in (
        "ASSIGNMENT CONFIG",
        "BEGIN QUESTION",
        "x = 2 + 2",
        "y * y",
        "np.arange(0, 10",
        "square(5) == 25",
        "assert_array_equal",
        "never negative",
    ):
        assert gone not in text
    for kept in ("x = ...", "def square(y):\\n    ...", "len(arr)", "Type your answer here"):
        assert kept in text


def test_otter_prompts_and_no_prompt_lines_are_handled():
    from courses.assignment.markers import otter_student_code

    source = (
        "def square(x):\n    y = x * x # SOLUTION NO PROMPT\n    return y # SOLUTION\n"
        "nine = square(3) # SOLUTION\n"
        "def circumference(r):\n    # BEGIN SOLUTION NO PROMPT\n    return 2 * r\n"
        '    # END SOLUTION\n    """ # BEGIN PROMPT\n    pass\n    """; # END PROMPT\n'
    )
    assert otter_student_code(source) == (
        "def square(x):\n    ...\nnine = ...\ndef circumference(r):\n    pass"
    )


def test_it_reports_every_otter_structure_problem():
    notebook = load("otter_demo.ipynb")
    notebook["cells"][3]["source"] = "# BEGIN QUESTION\npoints: 2"  # no name
    notebook["cells"][13]["source"] = "# BEGIN QUESTION\nname: q3\npoints: 3"  # q3 twice
    del notebook["cells"][21]  # q2's END TESTS: later cells move up by one
    problems = problems_of(notebook)
    assert ("otter_name_missing", 3) in problems
    assert ("duplicate_grade_id", 22) in problems
    assert any(code == "otter_unbalanced" for code, _ in problems)


# ---------------------------------------------------------------- merging


def answered(notebook: dict, grade_id: str, source: str) -> dict:
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    return notebook


def test_merging_takes_answer_and_added_cells_from_the_submission():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    answered(submission, "squares", "def squares(n):\n    return 'mine'")
    answered(submission, "correct_squares", "pass")  # editing a test
    submission["cells"] = [
        c
        for c in submission["cells"]  # deleting another
        if c["metadata"].get("nbgrader", {}).get("grade_id") != "squares_invalid_input"
    ]
    submission["cells"].append(nbformat.v4.new_code_cell("print('extra')"))
    merged = merge_submission(exercise=exercise, submission=submission)
    sources = {c.grade_id: c.source for c in merged.cells if c.grade_id}
    assert sources["squares"] == "def squares(n):\n    return 'mine'"
    original = {c.grade_id: c.source for c in exercise.cells if c.grade_id}
    assert sources["correct_squares"] == original["correct_squares"]
    assert sources["squares_invalid_input"] == original["squares_invalid_input"]
    added = [c for c in merged.cells if c.role is Role.ADDED]
    assert [c.source for c in added] == ["print('extra')"]
    assert len(merged.cells) == len(exercise.cells) + 1


def test_a_cell_claiming_a_test_grade_id_or_a_second_answer_is_ignored():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    answered(submission, "squares", "first = 1")
    impostor = copy.deepcopy(
        next(
            c
            for c in submission["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade_id") == "squares"
        )
    )
    impostor["source"] = "second = 2"
    submission["cells"].append(impostor)
    merged = merge_submission(exercise=exercise, submission=submission)
    assert next(c.source for c in merged.cells if c.grade_id == "squares") == "first = 1"


def test_a_missing_answer_is_the_stub_and_a_changed_cell_type_is_ignored():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    submission["cells"] = [
        c
        for c in submission["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") != "squares"
    ]
    answered(submission, "sum_of_squares", "total = 1")
    for cell in submission["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "sum_of_squares":
            cell["cell_type"] = "markdown"
    merged = {
        c.grade_id: c for c in merge_submission(exercise=exercise, submission=submission).cells
    }
    assert "raise NotImplementedError()" in merged["squares"].source
    assert (merged["sum_of_squares"].cell_type, merged["sum_of_squares"].source) == (
        "code",
        "total = 1",
    )


@pytest.mark.parametrize("garbage", [{}, {"cells": "no"}, {"cells": [1, {"metadata": 3}]}, []])
def test_a_malformed_submission_merges_as_all_stubs(garbage):
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    merged = merge_submission(exercise=exercise, submission=garbage)
    assert all(c.source == c.student_source for c in merged.answer_cells)


def test_every_problem_can_be_translated_from_its_template_and_arguments():
    notebook = load("nbgrader_many_problems.ipynb")
    notebook["cells"][0] = {"cell_type": "sorcery"}
    with pytest.raises(ExerciseInvalid) as caught:
        parse_exercise(data=notebook)
    for problem in caught.value.problems:
        assert problem.template % dict(problem.args) == problem.message
        assert "%(" not in problem.message


def roles_and_ids(exercise) -> list[str]:
    return [c.grade_id or c.role.value for c in exercise.cells if c.cell_type == "code"]


def test_an_added_cell_runs_right_after_the_answer_it_follows():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    at = next(
        i
        for i, c in enumerate(submission["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "squares"
    )
    submission["cells"].insert(at + 1, nbformat.v4.new_code_cell("def helper(): pass"))
    merged = merge_submission(exercise=exercise, submission=submission)
    ids = roles_and_ids(merged)
    assert ids[ids.index("squares") + 1] == "added"


def test_an_added_cell_after_a_test_never_runs_between_tests():
    # given cells added after each test, rebinding the answer between the tests
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    cells = []
    for cell in submission["cells"]:
        cells.append(cell)
        if cell["metadata"].get("nbgrader", {}).get("grade", False):
            cells.append(nbformat.v4.new_code_cell("squares = lambda n: 'rebound'"))
    submission["cells"] = cells
    # then every added cell runs after an answer cell, never between two tests
    ids = roles_and_ids(merge_submission(exercise=exercise, submission=submission))
    tests = {c.grade_id for c in exercise.test_cells}
    for before, after in itertools.pairwise(ids):
        assert not (before in tests and after == "added")


def test_added_cells_before_any_answer_run_before_the_first_answer():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    submission["cells"].insert(0, nbformat.v4.new_code_cell("import math"))
    ids = roles_and_ids(merge_submission(exercise=exercise, submission=submission))
    assert ids.index("added") == ids.index("squares") - 1


def test_a_cell_claiming_an_unknown_test_is_learner_code_and_earns_nothing():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    fake = nbformat.v4.new_code_cell("print('Passed')")
    fake["metadata"]["nbgrader"] = {"grade": True, "grade_id": "fake", "points": 100}
    submission["cells"].append(fake)
    merged = merge_submission(exercise=exercise, submission=submission)
    assert merged.max_score == exercise.max_score
    assert [c.role for c in merged.cells if c.source == "print('Passed')"] == [Role.ADDED]


def test_unchanged_copies_of_instructor_cells_are_not_added_again():
    exercise = parse_exercise(data=load("nbgrader_problem1.ipynb"))
    submission = json.loads(json.dumps(student_notebook(exercise=exercise)))
    merged = merge_submission(exercise=exercise, submission=submission)
    assert [c for c in merged.cells if c.role is Role.ADDED] == []


def test_it_refuses_nbgrader_autotest_lines_that_would_pass_any_answer():
    # given tests written as nbgrader autotest directives (plain and hashed), which nbgrader
    # turns into asserts only when it generates the assignment
    notebook = two_parts_exercise()
    notebook["cells"][2]["source"] = "### AUTOTEST double(4)"
    notebook["cells"][5]["source"] = '"""halve"""\n  ### HASHED AUTOTEST halve(9)'
    # then the import says so, cell by cell, instead of grading comments
    assert problems_of(notebook) == [("autotest", 2), ("autotest", 5)]
    # and an assert that merely mentions the word is a test like any other
    notebook["cells"][2]["source"] = "assert double(4) == 8  # AUTOTEST was here"
    notebook["cells"][5]["source"] = "assert halve(9) == 4.5"
    assert parse_exercise(data=notebook).max_score == 5.0
