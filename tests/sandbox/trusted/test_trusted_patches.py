"""A test that forbids a library function by overwriting it (``np.linalg.solve = None``)
forbids it to the learner's code too, as under nbgrader where tests and answers share one
process (issue 12: SeidelPoisson's hidden test); the learner never patches the trusted side."""

from __future__ import annotations

from sandbox.trusted.runner import CheckCell, TrustedRunner

LIBRARY_SOLVER = (
    "import numpy as np\n"
    "import math\n"
    "def solve(A, b):\n"
    "    return np.linalg.solve(A, b)\n"
    "def norm(x):\n"
    "    return math.sqrt(sum(v * v for v in x))\n"
)
OWN_SOLVER = (
    "import numpy as np\n"
    "def solve(A, b):\n"
    "    A, b = np.array(A, dtype=float), np.array(b, dtype=float)\n"
    "    for i in range(len(b)):\n"
    "        for j in range(i + 1, len(b)):\n"
    "            f = A[j, i] / A[i, i]\n"
    "            A[j] -= f * A[i]\n"
    "            b[j] -= f * b[i]\n"
    "    x = np.zeros(len(b))\n"
    "    for i in reversed(range(len(b))):\n"
    "        x[i] = (b[i] - A[i, i + 1 :] @ x[i + 1 :]) / A[i, i]\n"
    "    return x\n"
)
# As the course's hidden test: forbid the library solvers, then call the learner's.
FORBIDS = (
    "import numpy as np\n"
    "A = np.array([[4.0, 1.0], [1.0, 3.0]])\n"
    "b = np.array([1.0, 2.0])\n"
    "expected = np.linalg.solve(A, b)\n"
    "np.linalg.solve = None\n"
    "np.linalg.inv = None\n"
    "assert np.allclose(solve(A, b), expected)\n"
)
LATER = (
    "import numpy as np\n"
    "assert np.linalg.solve is None\n"
    "assert np.allclose(solve(np.eye(2), np.ones(2)), np.ones(2))\n"
)


def outcomes(results):
    return [(r.passed, r.error_type, r.from_learner) for r in results]


def test_a_learner_who_calls_the_forbidden_solver_fails_as_under_nbgrader(run_trusted):
    results = run_trusted(LIBRARY_SOLVER, FORBIDS, LATER)
    # The patch holds for the later tests of the notebook, as nbgrader's does.
    assert outcomes(results) == [(False, "TypeError", True)] * 2
    assert "NoneType" in results[0].error_message


def test_a_learner_with_their_own_solver_gets_the_points(run_trusted):
    results = run_trusted(OWN_SOLVER, FORBIDS, LATER)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")] * 2


def test_a_patch_holds_for_the_next_run_of_tests_and_the_kernel_gets_its_own_back(
    run_trusted, kernel
):
    kernel.execute(LIBRARY_SOLVER + "x = 2.0\n", timeout=60)
    with TrustedRunner(kernel, cell_timeout_s=10.0) as runner:
        first = runner.run([CheckCell("forbid", "import math\nmath.sqrt = None\n")])
        second = runner.run([CheckCell("norm", "norm([3.0, 4.0])\n")])
    assert [r.passed for r in first] == [True]
    assert outcomes(second) == [(False, "TypeError", True)]
    # A fresh trusted process (the next notebook) finds the kernel's own functions back.
    results = run_trusted("", "assert norm([3.0, 4.0]) == 5.0\n", "solve([[2.0]], [4.0])\n")
    assert [(r.passed, r.error_message) for r in results] == [(True, "")] * 2


def test_only_plain_values_on_library_modules_cross(run_trusted):
    answer = LIBRARY_SOLVER + "class Box:\n    pass\nbox = Box()\n"
    test = (
        "import numpy as np\n"
        "np.linalg.solve = lambda A, b: 'from the test'\n"  # code never crosses
        "box.solve = None\n"  # a learner object is not a library module
        "assert solve([[2.0]], [4.0])[0] == 2.0\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(answer, test)] == [(True, "")]


def test_a_learner_cannot_patch_the_tests_library(run_trusted):
    cheat = (
        "import numpy as np\n"
        "np.linalg.det = None\n"
        "def solve(A, b):\n"
        "    np.linalg.solve = None\n"
        "    np.allclose = lambda *a, **k: True\n"
        "    return np.zeros(2)\n"
    )
    test = (
        "import numpy as np\n"
        "A = np.array([[4.0, 1.0], [1.0, 3.0]])\n"
        "x = solve(A, np.ones(2))\n"
        "assert abs(np.linalg.det(A) - 11) < 1e-9\n"
        "assert np.allclose(np.linalg.solve(A, A @ np.ones(2)), np.ones(2))\n"
        "assert not np.allclose(x, np.ones(2))\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(cheat, test)] == [(True, "")]
