"""OK-format doctests (otter's, okpy's) in the trusted runner: each example's output
checked as python's doctest checks it, a learner object's own repr never asked for."""

from __future__ import annotations

from sandbox.trusted import CheckCell, run_tests


def run_doctests(kernel, answer: str, *doctests: str) -> list[tuple[bool, str]]:
    kernel.execute(answer, timeout=60)
    cells = [CheckCell(key=f"t{i}", code=text, doctest=True) for i, text in enumerate(doctests)]
    return [(r.passed, r.error_message) for r in run_tests(kernel, cells, cell_timeout_s=10)]


def test_each_example_is_checked_in_turn_with_the_names_earlier_ones_bound(kernel):
    answer = "import numpy as np\ndef square(x):\n    return x * x\nm = np.float64(2.5)"
    results = run_doctests(
        kernel,
        answer,
        ">>> def twice(f, x):\n...     return f(f(x))\n>>> twice(square, 3)\n81\n"
        ">>> print(square(2), 'ok')\n4 ok",
        ">>> [square(i) for i in range(20)]  # doctest: +ELLIPSIS\n[0, 1, 4, ..., 361]",
        ">>> square('a')\nTraceback (most recent call last):\n    ...\n"
        "TypeError: can't multiply sequence by non-int of type 'str'",
        ">>> m\n2.5",  # saved under numpy 1; numpy 2 shows np.float64(2.5)
        ">>> square(3)\n9\n>>> square(4)\n15\n>>> square(5)\n25",
    )
    assert results[:4] == [(True, "")] * 4
    assert results[4] == (False, ">>> square(4)\nExpected:\n15\nGot:\n16\n")


def test_an_unexpected_error_fails_the_test_with_the_learners_error(kernel):
    results = run_doctests(kernel, "def f():\n    raise ValueError('gone')", ">>> f()\n1")
    assert results == [(False, "gone")]


def test_a_learner_object_never_shows_itself_as_the_expected_output(kernel):
    # given objects that print as what the tests expect, and count who asks
    answer = (
        "asked = []\n"
        "class Liar:\n"
        "    def __repr__(self):\n"
        "        asked.append('repr')\n"
        "        return '256'\n"
        "    __str__ = __repr__\n"
        "def square(x):\n"
        "    return Liar()\n"
        "values = [Liar()]\n"
    )
    # when doctests display them
    results = run_doctests(kernel, answer, ">>> square(16)\n256", ">>> values\n[256]")
    # then they fail, and the learner's repr was never called
    assert [passed for passed, _ in results] == [False, False]
    assert kernel.execute("assert asked == [], asked").status == "ok"
