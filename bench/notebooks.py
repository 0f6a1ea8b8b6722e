"""Exercises used by the benchmarks, built in code (nbgrader format)."""

from typing import Any

import nbformat


def _meta(grade_id: str, **flags: Any) -> dict[str, Any]:
    meta = {
        "grade_id": grade_id,
        "solution": False,
        "grade": False,
        "locked": False,
        "task": False,
        "schema_version": 3,
    }
    meta.update(flags)
    return {"nbgrader": meta}


def exercise(answer: str, tests: list[tuple[str, float]], setup: str = "") -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_markdown_cell("Benchmark exercise.", metadata=_meta("intro", locked=True))
    ]
    if setup:
        cells.append(nbformat.v4.new_code_cell(setup, metadata=_meta("setup", locked=True)))
    cells.append(nbformat.v4.new_code_cell(answer, metadata=_meta("answer", solution=True)))
    cells += [
        nbformat.v4.new_code_cell(
            code, metadata=_meta(f"test_{i}", grade=True, locked=True, points=points)
        )
        for i, (code, points) in enumerate(tests)
    ]
    nb.cells = cells
    return dict(nbformat.from_dict(nb))


# A typical small exercise: a function, a visible test and a hidden one.
SMALL_ANSWER = (
    "def mean(values):\n"
    "    ### BEGIN SOLUTION\n"
    "    return sum(values) / len(values)\n"
    "    ### END SOLUTION\n"
)
SMALL_TESTS = [
    ("assert mean([1, 2, 3]) == 2", 1.0),
    (
        "### BEGIN HIDDEN TESTS\nassert abs(mean([0.5, 1.5]) - 1.0) < 1e-9\n### END HIDDEN TESTS",
        1.0,
    ),
]

# A compute-heavy one: the learner's code runs for seconds; grading must add little.
HEAVY_CODE = (
    "import numpy as np\n"
    "def simulate(steps, walkers):\n"
    "    rng = np.random.default_rng(0)\n"
    "    positions = np.zeros(walkers)\n"
    "    for _ in range(steps):\n"
    "        positions += rng.standard_normal(walkers)\n"
    "    return float(np.sqrt(np.mean(positions ** 2)))\n"
    "result = simulate(10000, 20000)\n"
)
HEAVY_ANSWER = "### BEGIN SOLUTION\n" + HEAVY_CODE + "### END SOLUTION\n"
HEAVY_TESTS = [("assert 90 < result < 110", 1.0)]


def small() -> dict[str, Any]:
    return exercise(SMALL_ANSWER, SMALL_TESTS)


def heavy() -> dict[str, Any]:
    return exercise(HEAVY_ANSWER, HEAVY_TESTS)
