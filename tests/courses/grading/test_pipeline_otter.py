"""Otter notebooks graded as otter grades them (real local kernels, the trusted runner):
doctest outputs with what the test printed, all-or-nothing questions, exception-based
tests called with the learner's globals, and cheats aimed at otter's own machinery."""

from __future__ import annotations

import json

import pytest

from courses.assignment import parse_exercise, student_notebook
from courses.grading import kernels
from courses.grading.pipeline import grade_notebook
from sandbox import KernelPool
from tests.courses.grading.test_pipeline import grade
from tests.support.otter import answered, code, notebook, question

NEWTON = (
    "def newton(f, df, x, steps=50):\n"
    "    for _ in range(steps):\n"
    "        x = x - f(x) / df(x)\n"
    "    return x"
)


@pytest.fixture(scope="module")
def exercise():
    doctests = question(
        "name: q1\npoints: 2",
        [code("arr = [0, 2, 4, 6, 8] # SOLUTION")],
        [
            code("print(len(arr))", printed="5\n"),
            code("# HIDDEN\nprint(arr[-1])\narr[0]", "0", printed="8\n"),
        ],
    )
    all_or_nothing = question(
        "name: q2\npoints: 4\nall_or_nothing: true",
        [code("def square(x):\n    return x * x # SOLUTION")],
        [code("square(3)", "9"), code("square(-2)", "4")],
    )
    exception_based = question(
        "name: q3\npoints: 3",
        [code(NEWTON.replace("return x", "return x # SOLUTION"))],
        [
            code(
                "def test_root(newton):\n"
                "    root = newton(lambda x: x * x - 2, lambda x: 2 * x, 1.0)\n"
                "    assert abs(root - 2 ** 0.5) < 1e-9, 'not the square root of 2'"
            ),
            code(
                "# HIDDEN\ndef test_env(env):\n"
                "    assert env['newton'](lambda x: x - 3, lambda x: 1, 0.0) == 3"
            ),
            code(
                "def test_missing(not_defined_anywhere):\n    assert not_defined_anywhere is None"
            ),
        ],
    )
    return parse_exercise(data=notebook(*doctests, *all_or_nothing, *exception_based))


def submit(exercise, answers: dict[str, str]) -> dict:
    return answered(json.loads(json.dumps(student_notebook(exercise=exercise))), answers)


RIGHT = {
    "q1-answer-1": "arr = list(range(0, 10, 2))",
    "q2-answer-1": "def square(x):\n    return x ** 2",
    "q3-answer-1": NEWTON,
}


def test_right_answers_earn_every_point_and_wrong_ones_only_theirs(exercise):
    report, points = grade(exercise, submit(exercise, RIGHT))
    assert (report.score, report.max_score) == (9.0, 9.0), points
    wrong = {
        "q1-answer-1": "arr = [0, 2, 4, 6, 9]",  # the right length: only the first test
        "q2-answer-1": "def square(x):\n    return x * abs(x)",  # one test fails: none count
        "q3-answer-1": NEWTON.replace("steps=50", "steps=1"),
    }
    report, points = grade(exercise, submit(exercise, wrong))
    assert points == {
        "q1 - 1": 1.0,
        "q1 - 2": 0.0,
        "q2 - 1": 0.0,
        "q2 - 2": 0.0,
        "q3 - 1": 0.0,
        "q3 - 2": 1.0,
        "q3 - 3": 1.0,
    }
    by_id = {t.grade_id: t for t in report.tests}
    assert "every one of its tests" in by_id["q2 - 1"].message
    assert "not the square root of 2" in by_id["q3 - 1"].message


def test_an_answer_that_prints_what_a_test_expects_earns_nothing_for_it(exercise):
    cheat = {**RIGHT, "q1-answer-1": "arr = []\nprint(5)\nprint('5')"}
    _, points = grade(exercise, submit(exercise, cheat))
    assert points["q1 - 1"] == 0.0 and points["q1 - 2"] == 0.0


def test_faking_otter_or_the_tests_own_names_changes_no_score(exercise):
    fakes = (
        "import sys, types\n"
        "fake = types.ModuleType('otter')\n"
        "class Notebook:\n"
        "    def __init__(self, *a, **k): pass\n"
        "    def check(self, *a, **k): return True\n"
        "fake.Notebook = Notebook\n"
        "sys.modules['otter'] = fake\n"
        "grader = Notebook()\n"
        "test_root = test_env = test_missing = lambda *a, **k: None\n"
        "__otter_call = lambda: None\n"
        "arg0 = env = not_defined_anywhere = 'cheat'\n"
    )
    cheat = {
        "q1-answer-1": fakes + "arr = []",
        "q2-answer-1": "def square(x):\n    return 0",
        "q3-answer-1": "def newton(f, df, x, steps=50):\n    return x",
    }
    report, points = grade(exercise, submit(exercise, cheat))
    assert report.score == 0.0, points


def test_intercell_seeding_reproduces_the_instructors_random_draws():
    # given a hidden test made from the instructor's seeded draws; learners have no seed line
    seeded = notebook(
        code("import numpy as np"),
        *question(
            "name: q1",
            [code("np.random.seed(42) # SEED\nz = np.random.normal(4, 2, 3) # SOLUTION")],
            [code("# HIDDEN\nnp.round(z, 3).tolist()", "[4.993, 3.723, 5.295]")],
        ),
        config="generate:\n    seed: 42",
    )
    exercise = parse_exercise(data=seeded)
    assert "np.random.seed" not in json.dumps(student_notebook(exercise=exercise))
    # when a learner draws as asked (a fresh kernel each time: the seed is otter's)
    learner = submit(exercise, {"q1-answer-1": "z = np.random.normal(4, 2, 3)"})
    report, _ = grade(exercise, learner)
    # then the draws are the instructor's
    assert report.score == 1.0


@pytest.fixture(scope="module")
def greeting():
    # a question whose tests expect what the learner's function prints, one case hidden
    return parse_exercise(
        data=notebook(
            *question(
                "name: q4\npoints: 2",
                [code("def greet(name):\n    print('Hello', name) # SOLUTION")],
                [
                    code("greet('bob')", printed="Hello bob\n"),
                    code("# HIDDEN\ngreet('amy')\ngreet('zoe')", printed="Hello amy\nHello zoe\n"),
                ],
            )
        )
    )


@pytest.fixture(scope="module")
def pool():
    with KernelPool(size=1, limits=kernels.grading_limits()) as pool:
        yield pool


def grade_sandboxed(exercise, pool, answer: str) -> tuple[dict, dict]:
    """Graded in a real sandboxed kernel: the report a learner sees, and the points."""
    report = grade_notebook(
        source=exercise,
        submission=submit(exercise, {"q4-answer-1": answer}),
        kernel_factory=pool.acquire,
        limits=kernels.grading_limits(),
    )
    return report.as_dict(), {t.grade_id: t.points for t in report.tests}


def test_what_the_learners_function_prints_is_what_its_tests_compare(greeting, pool):
    # given the answer otter passes, a wrong greeting, and greetings for later tests' names
    right = "def greet(name):\n    print('Hello', name)"
    wrong = "def greet(name):\n    print('Hello,', name)"
    later = "def greet(name):\n    print('Hello amy')\n    print('Hello zoe')"
    # when each is graded in a sandboxed kernel
    _, points = grade_sandboxed(greeting, pool, right)
    wrong_report, wrong_points = grade_sandboxed(greeting, pool, wrong)
    _, later_points = grade_sandboxed(greeting, pool, later)
    # then the right one earns otter's points, the others nothing
    assert points == {"q4 - 1": 1.0, "q4 - 2": 1.0}
    assert wrong_points == later_points == {"q4 - 1": 0.0, "q4 - 2": 0.0}
    # and what the hidden test had the function print stays out of the learner's report
    assert "Hello, bob" in json.dumps(wrong_report)
    assert "amy" not in json.dumps(wrong_report) and "zoe" not in json.dumps(wrong_report)


def test_printing_past_the_test_or_flooding_earns_nothing_and_breaks_nothing(greeting, pool):
    cheats = [
        "import sys\ndef greet(name):\n    sys.__stdout__.write(f'Hello {name}\\n')",
        "import os\ndef greet(name):\n    os.write(1, f'Hello {name}\\n'.encode())",
        "def greet(name):\n    print('Hello', name * 10 ** 7)",
    ]
    for cheat in cheats:
        _, points = grade_sandboxed(greeting, pool, cheat)
        assert points == {"q4 - 1": 0.0, "q4 - 2": 0.0}, cheat
    # the kernel and the tests still work for the next learner
    _, points = grade_sandboxed(greeting, pool, "def greet(name):\n    print('Hello', name)")
    assert points == {"q4 - 1": 1.0, "q4 - 2": 1.0}
