"""Otter Assign's documented patterns, each on a notebook written for the test: what the
learner gets, what is graded, and each test case's points as otter resolves them."""

from __future__ import annotations

import json

import pytest

from courses.assignment import Check, ExerciseInvalid, Role, parse_exercise, student_notebook
from tests.support.otter import code, md, notebook, question, raw

SQUARE = code("def square(x):\n    return x * x # SOLUTION")


def cases_of(exercise) -> dict[str, tuple[float, bool]]:
    return {c.grade_id: (c.points, c.hidden) for c in exercise.test_cells}


def student_text(exercise) -> str:
    return json.dumps(student_notebook(exercise=exercise))


def test_fenced_otter_blocks_in_markdown_cells_are_boundary_cells():
    cells = question("name: q1\npoints: 2", [SQUARE], [code("square(3)", "9")])
    fenced = [md(f"```otter\n{c.source}\n```") if c.cell_type == "raw" else c for c in cells]
    exercise = parse_exercise(data=notebook(*fenced))
    assert exercise.format == "otter"
    assert cases_of(exercise) == {"q1 - 1": (2.0, False)}
    assert "BEGIN QUESTION" not in student_text(exercise)


def test_ignored_cells_and_lines_reach_neither_the_learner_nor_the_grader():
    solution = code(
        "def square(x):\n    # BEGIN IGNORE\n    print('debug')\n    # END IGNORE\n"
        "    check(x)  # IGNORE\n    return x * x # SOLUTION"
    )
    exercise = parse_exercise(
        data=notebook(
            code("# IGNORE\nraise RuntimeError('scratch')"),
            md("## Ignore ##\nNotes for TAs"),
            *question("name: q1", [solution], [code("square(2)", "4")]),
        )
    )
    everything = " ".join(c.source + c.student_source for c in exercise.cells)
    for gone in ("scratch", "Notes for TAs", "debug", "check(x)"):
        assert gone not in everything
    answer = exercise.answer_cells[0]
    assert answer.source == "def square(x):\n    return x * x # SOLUTION"


def test_otters_own_set_up_and_check_cells_are_left_out():
    exercise = parse_exercise(
        data=notebook(
            code('import otter\ngrader = otter.Notebook("hw01.ipynb")'),
            *question("name: q1", [SQUARE], [code("square(2)", "4")]),
            code('grader.check("q1")'),
            code("grader.check_all()"),
            code("grader.export(pdf=False)"),
            code("import numpy as np"),
        )
    )
    kept = [c.source for c in exercise.cells if c.role is Role.PLAIN and c.cell_type == "code"]
    assert kept == ["import numpy as np"]


def test_hidden_tests_and_test_configs_are_read_as_otter_reads_them():
    tests = [
        code("# hidden test\nsquare(2)", "4"),
        code('"""# begin test config\npoints: 2\n"""# end test config\nsquare(3)', "9"),
        code("'''# BEGIN TEST CONFIG\nhidden: true\n''' # END TEST CONFIG\nsquare(4)", "16"),
        code("square(5)  # not hidden: the comment is not on the first line", "25"),
    ]
    exercise = parse_exercise(data=notebook(*question("name: q1\npoints: 5", [SQUARE], tests)))
    assert cases_of(exercise) == {
        "q1 - 1": (1.0, True),
        "q1 - 2": (2.0, False),
        "q1 - 3": (1.0, True),
        "q1 - 4": (1.0, False),
    }
    text = student_text(exercise)
    assert "square(2)" not in text and "square(4)" not in text and "square(3)" in text


@pytest.mark.parametrize(
    ("points", "configs", "expected"),
    [
        ("points: {each: 2}", ["", ""], [2.0, 2.0]),
        ("points: [3, 1]", ["", ""], [3.0, 1.0]),
        ("points: 6", ["points: 2", "points: 2", "", ""], [2.0, 2.0, 1.0, 1.0]),
        ("", ["points: 2", ""], [2.0, 0.0]),
        ("", ["points: 0", "", ""], [0.0, 0.5, 0.5]),
        ("", ["", ""], [0.5, 0.5]),
    ],
)
def test_points_are_spread_over_test_cases_by_otters_rules(points, configs, expected):
    tests = [
        code(f'"""# BEGIN TEST CONFIG\n{c}\n"""# END TEST CONFIG\nsquare({i})', str(i * i))
        for i, c in enumerate(configs)
    ]
    exercise = parse_exercise(data=notebook(*question(f"name: q1\n{points}", [SQUARE], tests)))
    assert [c.points for c in exercise.test_cells] == expected


def test_tests_worth_more_than_their_question_are_a_problem():
    tests = [code('"""# BEGIN TEST CONFIG\npoints: 3\n"""# END TEST CONFIG\nsquare(1)', "1")]
    with pytest.raises(ExerciseInvalid) as caught:
        parse_exercise(data=notebook(*question("name: q1\npoints: 2", [SQUARE], tests)))
    assert [p.code for p in caught.value.problems] == ["points_invalid"]


def test_a_manual_question_is_answered_in_its_prompt_or_one_text_cell():
    with_prompt = [
        raw("# BEGIN QUESTION\nname: essay\nmanual: true\npoints: 4"),
        md("**Question.** Why?"),
        raw("# BEGIN PROMPT"),
        md("_Write your reasons here._"),
        raw("# END PROMPT"),
        raw("# BEGIN SOLUTION"),
        md("Because the model says so."),
        raw("# END SOLUTION"),
        raw("# END QUESTION"),
    ]
    without_prompt = question(
        "name: short\nmanual: true\npoints: 1",
        [md("First part of the answer."), md("Second part.")],
        [],
    )
    exercise = parse_exercise(data=notebook(*with_prompt, *without_prompt))
    manual = {c.grade_id: c for c in exercise.cells if c.role is Role.MANUAL}
    assert manual["essay"].student_source == "_Write your reasons here._"
    assert manual["essay"].points == 4.0 and manual["short"].points == 1.0
    assert [c.grade_id for c in exercise.answer_cells] == ["essay", "short"]
    text = student_text(exercise)
    for gone in ("model says so", "First part", "Second part"):
        assert gone not in text
    assert text.count("Type your answer here") == 1


def test_solution_markdown_is_left_out_unless_tagged_otter_include():
    solution = [
        SQUARE,
        md("Now call it:", tags=["otter_include"]),
        md("The solution squares its input."),
        code("nine = square(3) # SOLUTION"),
    ]
    exercise = parse_exercise(data=notebook(*question("name: q1", solution, [])))
    text = student_text(exercise)
    assert "Now call it:" in text and "squares its input" not in text
    assert [c.grade_id for c in exercise.answer_cells] == ["q1-answer-1", "q1-answer-2"]


def test_exception_based_tests_are_called_with_the_learners_globals():
    tests = [
        code("def test_square(square):\n    assert square(3) == 9\n\ntest_square(square)"),
        code("# HIDDEN\ndef test_env(env):\n    assert env['square'](4) == 16"),
    ]
    exercise = parse_exercise(
        data=notebook(
            *question("name: q1\npoints: 2", [SQUARE], tests),
            config="tests:\n    ok_format: false",
        )
    )
    first, second = exercise.test_cells
    assert first.check is Check.NBGRADER and second.check is Check.NBGRADER
    assert first.student_source == "def test_square(square):\n    assert square(3) == 9"
    assert "test_square(square=arg0)" in first.source
    assert "test_env(env=globals())" in second.source and second.student_source == ""


def test_a_test_cell_that_only_defines_a_function_is_exception_based_when_unsaid():
    tests = [code("def test_square(square):\n    assert square(3) == 9"), code("square(3)", "9")]
    exercise = parse_exercise(data=notebook(*question("name: q1", [SQUARE], tests)))
    function, doctest = exercise.test_cells
    assert function.check is Check.NBGRADER and "test_square(square=arg0)" in function.source
    assert doctest.check is Check.OUTPUT and doctest.expected_output == "9"


def test_an_exception_based_cell_with_more_than_a_function_is_a_problem():
    tests = [code("x = 1\ndef test_square(square):\n    assert square(3) == 9\nx")]
    with pytest.raises(ExerciseInvalid) as caught:
        parse_exercise(
            data=notebook(
                *question("name: q1", [SQUARE], tests), config="tests:\n    ok_format: false"
            )
        )
    assert [p.code for p in caught.value.problems] == ["otter_exception_test"]


def test_the_expected_output_is_what_the_cell_printed_then_displayed():
    tests = [code("print(square(2))\nsquare(3)", "9", printed="4\n")]
    exercise = parse_exercise(data=notebook(*question("name: q1", [SQUARE], tests)))
    assert exercise.test_cells[0].expected_output == "4\n9"


def test_all_or_nothing_questions_mark_their_tests():
    tests = [code("square(2)", "4"), code("square(3)", "9")]
    exercise = parse_exercise(
        data=notebook(*question("name: q1\nall_or_nothing: true", [SQUARE], tests))
    )
    assert all(c.all_or_nothing for c in exercise.test_cells)


@pytest.mark.parametrize(
    ("config", "prelude"),
    [
        (
            "generate:\n    seed: 7",
            '__import__("numpy").random.seed(7); __import__("random").seed(7)',
        ),
        (
            "seed:\n    variable: rng_seed\n    autograder_value: 42\n    student_value: 9",
            "rng_seed = 42",
        ),
        ("generate: true", ""),
    ],
)
def test_intercell_seeding_comes_from_the_assignment_config(config, prelude):
    exercise = parse_exercise(
        data=notebook(*question("name: q1", [SQUARE], [code("square(2)", "4")]), config=config)
    )
    assert exercise.cell_prelude == prelude
