"""Notebooks Otter Assign wrote, graded as otter grades them (real local kernels, the
trusted runner): OK-format doctests from the notebook's metadata with otter's points, a
question otter checks only at the end, a manual question, and cheats aimed at doctests."""

from __future__ import annotations

import json

import pytest

from courses.assignment import parse_exercise, student_notebook
from tests.courses.grading.test_pipeline import grade
from tests.support.otter import answer, answered, check, md, ok_test, otter_output


def case(code: str, *, hidden: bool = False, points: float | None = None) -> dict:
    found = {"code": code, "hidden": hidden, "locked": False}
    return found if points is None else {**found, "points": points}


TESTS = {
    "q1": ok_test(
        "q1",
        [
            case(">>> isinstance(x, int)\nTrue", points=1),
            case(">>> 0 < x < 100\nTrue", points=1),
            case(">>> x\n2", hidden=True, points=2),
        ],
    ),
    # 6 points shared by two cases, each several examples long
    "q2": ok_test(
        "q2",
        [
            case(">>> square(16)\n256\n>>> square(-3)\n9"),
            case(
                ">>> [square(i) for i in range(3)]\n[0, 1, 4]\n>>> print(square(2))\n4", hidden=True
            ),
        ],
        points=6,
    ),
    # never checked in the notebook: otter's autograder checks it at the end
    "q4": ok_test("q4", [case(">>> total\n10", points=1)]),
}


@pytest.fixture(scope="module")
def exercise():
    return parse_exercise(
        data=otter_output(
            md("**Question 1.** Assign `x` to the smallest prime number."),
            answer("x = ..."),
            check("q1"),
            md("**Question 2.** Define `square`."),
            answer("def square(v):\n    ..."),
            check("q2"),
            md("<!-- BEGIN QUESTION -->\n\n**Question 3.** Why?\n\n_Points:_ 2"),
            answer("_Type your answer here, replacing this text._", "markdown"),
            md("<!-- END QUESTION -->"),
            answer("total = ..."),
            tests=TESTS,
        )
    )


def submit(exercise, answers: dict[str, str]) -> dict:
    return answered(json.loads(json.dumps(student_notebook(exercise=exercise))), answers)


RIGHT = {
    "q1-answer-1": "x = 2",
    "q2-answer-1": "def square(v):\n    return v * v",
    "manual-1": "Because.",
    "answer-answer-1": "total = 10",
}


def test_the_notebook_imports_with_otters_points_and_no_hidden_test_for_learners(exercise):
    points = {c.grade_id: c.points for c in exercise.test_cells}
    assert points == {"q1 - 1": 1, "q1 - 2": 1, "q1 - 3": 2, "q2 - 1": 3, "q2 - 2": 3, "q4 - 1": 1}
    assert exercise.max_score == 13.0  # with the manual question's 2
    learners = json.dumps(student_notebook(exercise=exercise))
    assert "square(-3)" in learners and ">>> x\\n2" not in learners
    assert "range(3)" not in learners and '"otter"' not in learners


def test_right_answers_earn_every_point_and_wrong_ones_only_theirs(exercise):
    report, points = grade(exercise, submit(exercise, RIGHT))
    assert (report.score, report.max_score, report.pending_points) == (11.0, 13.0, 2.0), points
    wrong = {
        "q1-answer-1": "x = 3",
        "q2-answer-1": "def square(v):\n    return v * abs(v)",  # wrong for negatives only
        "answer-answer-1": "total = 9",
    }
    report, points = grade(exercise, submit(exercise, wrong))
    assert points == {
        "q1 - 1": 1.0,
        "q1 - 2": 1.0,
        "q1 - 3": 0.0,
        "q2 - 1": 0.0,
        "q2 - 2": 3.0,
        "q4 - 1": 0.0,
        "manual-1": 0.0,
    }
    failed = {t.grade_id: t for t in report.tests}["q2 - 1"]
    assert "Expected:\n9\nGot:\n-9" in failed.message + failed.traceback


def test_printing_what_a_doctest_expects_earns_only_what_the_answer_earns(exercise):
    cheat = {
        **RIGHT,
        "q1-answer-1": "x = 0\nprint(True)\nprint(2)",
        "q2-answer-1": "def square(v):\n    print(256)\n    print(9)",
    }
    _, points = grade(exercise, submit(exercise, cheat))
    # x = 0 is an int: that test passes on its own; nothing else does
    assert [points[f"q1 - {n}"] for n in (1, 2, 3)] == [1.0, 0.0, 0.0]
    assert points["q2 - 1"] == 0.0 and points["q2 - 2"] == 0.0


def test_objects_that_show_or_compare_as_the_expected_output_earn_nothing(exercise):
    liar = (
        "class Liar(int):\n"
        "    def __repr__(self): return '2'\n"
        "    def __eq__(self, other): return True\n"
        "    def __lt__(self, other): return True\n"
        "    def __gt__(self, other): return True\n"
        "    __hash__ = int.__hash__\n"
    )
    cheat = {
        **RIGHT,
        "q1-answer-1": liar + "x = Liar(7)",
        "q2-answer-1": liar + "def square(v):\n    return type('S', (), {'__repr__': lambda s: "
        "'256'})()",
    }
    _, points = grade(exercise, submit(exercise, cheat))
    # Liar(7) is an int between 0 and 100 (two tests earned), but not 2, whatever it shows
    assert [points[f"q1 - {n}"] for n in (1, 2, 3)] == [1.0, 1.0, 0.0]
    assert points["q2 - 1"] == 0.0


def test_patching_doctest_or_otter_in_the_kernel_changes_no_score(exercise):
    patches = (
        "import doctest, sys, types\n"
        "doctest.OutputChecker.check_output = lambda *args: True\n"
        "doctest.DocTestRunner.run = lambda *args, **kwargs: doctest.TestResults(0, 0)\n"
        "fake = types.ModuleType('otter')\n"
        "fake.Notebook = lambda *a, **k: types.SimpleNamespace(check=lambda *a: True)\n"
        "sys.modules['otter'] = fake\n"
        "grader = fake.Notebook()\n"
    )
    cheat = {"q1-answer-1": patches + "x = 9", "answer-answer-1": "total = 1"}
    report, points = grade(exercise, submit(exercise, cheat))
    assert report.score == 2.0, points  # x = 9: an int below 100, and no more


def test_a_student_version_answered_outside_the_platform_gets_its_points(exercise):
    # given otter's own student version, answered in Jupyter: no platform metadata, its
    # tests only the public ones, one cell of it not even a dict of metadata
    public = {
        name: ok_test(name, [c for c in test["suites"][0]["cases"] if not c["hidden"]])
        for name, test in TESTS.items()
    }
    learner = otter_output(
        md("**Question 1.** Assign `x` to the smallest prime number."),
        answer("x = 2"),
        check("q1"),
        md("**Question 2.** Define `square`."),
        answer("def square(v):\n    return v * abs(v)"),
        check("q2"),
        md("<!-- BEGIN QUESTION -->\n\n**Question 3.** Why?\n\n_Points:_ 2"),
        answer("Because.", "markdown"),
        md("<!-- END QUESTION -->"),
        answer("total = 10"),
        tests=public,
    )
    learner["cells"][1]["metadata"] = ["not", "a", "mapping"]
    # when it is graded against the instructor's notebook
    report, points = grade(exercise, json.loads(json.dumps(learner)))
    # then each answer is found by otter's tags, and graded by the instructor's tests
    assert points == {
        "q1 - 1": 1.0,
        "q1 - 2": 1.0,
        "q1 - 3": 2.0,
        "q2 - 1": 0.0,
        "q2 - 2": 3.0,
        "q4 - 1": 1.0,
        "manual-1": 0.0,
    }
    assert report.pending_points == 2.0


def test_an_ok_doctest_compares_what_the_learners_function_prints():
    # given OK-format cases expecting what `greet` prints, one hidden
    greet = ok_test(
        "q5",
        [
            case(">>> greet('bob')\nHello bob", points=1),
            case(">>> greet('amy')\nHello amy\n>>> greet('zoe')\nHello zoe", hidden=True, points=1),
        ],
    )
    exercise = parse_exercise(
        data=otter_output(answer("def greet(name):\n    ..."), check("q5"), tests={"q5": greet})
    )
    # when answers that print are graded
    answers = {
        "def greet(name):\n    print('Hello', name)": 2.0,
        "def greet(name):\n    print('Hello,', name)": 0.0,
        "def greet(name):\n    print('Hello bob')": 1.0,
    }
    for text, earned in answers.items():
        report, _ = grade(exercise, submit(exercise, {"q5-answer-1": text}))
        # then each earns what otter gives it, and the hidden case's names stay hidden
        assert report.score == earned, text
        assert "zoe" not in json.dumps(report.as_dict())
