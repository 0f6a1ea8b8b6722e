import pytest

from courses.assignment import Exercise, parse_exercise
from tests.support.exercises import NOTEBOOKS


@pytest.fixture(scope="module")
def problem1() -> Exercise:
    """nbgrader's documented example, "Problem 1" (squares, sums of squares)."""
    return parse_exercise(data=(NOTEBOOKS / "nbgrader_problem1.ipynb").read_bytes())
