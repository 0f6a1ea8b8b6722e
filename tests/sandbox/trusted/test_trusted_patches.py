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


def test_a_learner_object_is_not_a_library_module(run_trusted):
    answer = LIBRARY_SOLVER + "class Box:\n    pass\nbox = Box()\n"
    test = (
        "import numpy as np\n"
        "box.solve = None\n"  # the learner's object, written through its handle
        "assert solve([[2.0]], [4.0])[0] == 2.0\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(answer, test)] == [(True, "")]


def test_a_trusted_object_that_is_no_function_of_the_test_stays_here(run_trusted):
    test = (
        "import numpy as np\n"
        "class Forbidden:\n"
        "    def __call__(self, *args):\n"
        "        raise AssertionError('do not use solve')\n"
        "np.linalg.solve = Forbidden()\n"  # an instance: neither data nor a function
        "np.linalg.lstsq = np.random.default_rng(0).random\n"  # a bound method, not public
        "assert solve([[2.0]], [4.0])[0] == 2.0\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(LIBRARY_SOLVER, test)] == [(True, "")]


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


# The other spellings real courses use: nbgrader honours them all (one process).
SETATTR = (
    "import math\n"
    "import numpy as np\n"
    'setattr(np.linalg, "solve", None)\n'
    'setattr(math, "sqrt", None)\n'
    "solve([[2.0]], [4.0])\n"
)
DELETES = "import numpy as np\ndel np.linalg.solve\nsolve([[2.0]], [4.0])\n"
DELATTR = 'import math\ndelattr(math, "sqrt")\nnorm([3.0, 4.0])\n'
MODULE_ALIAS = "import numpy.linalg as la\nla.solve = None\nsolve([[2.0]], [4.0])\n"
FROM_IMPORT = "from numpy import linalg\nlinalg.solve = None\nsolve([[2.0]], [4.0])\n"
# Bound inside the test's own function: found by the import that binds it.
LOCAL_ALIAS = (
    "def forbid():\n"
    "    import numpy.linalg as la\n"
    "    la.solve = None\n"
    "forbid()\n"
    "solve([[2.0]], [4.0])\n"
)


def test_setattr_with_a_literal_name_forbids_to_the_learner(run_trusted):
    results = run_trusted(LIBRARY_SOLVER, SETATTR, "norm([3.0, 4.0])\n")
    assert outcomes(results) == [(False, "TypeError", True)] * 2


def test_a_deleted_library_function_is_missing_for_the_learner_too(run_trusted):
    results = run_trusted(LIBRARY_SOLVER, DELETES, DELATTR)
    assert outcomes(results) == [(False, "AttributeError", True)] * 2
    assert "solve" in results[0].error_message
    assert "sqrt" in results[1].error_message


def test_a_deletion_is_undone_when_the_tests_end(run_trusted, kernel):
    kernel.execute(LIBRARY_SOLVER, timeout=60)
    with TrustedRunner(kernel, cell_timeout_s=10.0) as runner:
        first = runner.run([CheckCell("forbid", DELETES), CheckCell("later", DELATTR)])
        second = runner.run([CheckCell("again", "solve([[2.0]], [4.0])\n")])
    assert outcomes(first) == [(False, "AttributeError", True)] * 2
    # The trusted process still lacks them: the next run of tests deletes them again.
    assert outcomes(second) == [(False, "AttributeError", True)]
    results = run_trusted("", "assert norm([3.0, 4.0]) == 5.0\n", "solve([[2.0]], [4.0])\n")
    assert [(r.passed, r.error_message) for r in results] == [(True, "")] * 2


def test_a_module_bound_by_the_tests_import_is_patched_under_its_alias(run_trusted):
    results = run_trusted(LIBRARY_SOLVER, MODULE_ALIAS, FROM_IMPORT)
    assert outcomes(results) == [(False, "TypeError", True)] * 2


def test_a_module_imported_inside_the_tests_function_is_patched_too(run_trusted):
    assert outcomes(run_trusted(LIBRARY_SOLVER, LOCAL_ALIAS)) == [(False, "TypeError", True)]


def test_a_patch_through_the_learners_module_name_holds_for_later_tests(run_trusted):
    # The test never imports numpy: its `np` is the learner's, resolved to the trusted copy.
    forbid = "np.linalg.solve = None\n"
    later = "solve([[2.0]], [4.0])\n"
    assert outcomes(run_trusted(LIBRARY_SOLVER, forbid, later)) == [
        (True, None, False),
        (False, "TypeError", True),
    ]


def test_every_spelling_leaves_a_learner_with_their_own_solver_the_points(run_trusted):
    tests = (SETATTR.replace("solve([[2.0]], [4.0])\n", ""), DELETES, MODULE_ALIAS, LOCAL_ALIAS)
    results = run_trusted(OWN_SOLVER, *tests)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")] * 4


def test_a_library_attribute_the_test_puts_back_is_the_kernels_own_again(run_trusted):
    test = (
        "import numpy as np\n"
        "original = np.linalg.solve\n"
        "np.linalg.solve = None\n"
        "np.linalg.solve = original\n"
        "assert solve([[2.0]], [4.0])[0] == 2.0\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(LIBRARY_SOLVER, test)] == [(True, "")]


# The replacement is the test's own function: the kernel gets a proxy that calls it here.
REPLACED = (
    "import numpy as np\n"
    "np.linalg.solve = lambda *a, **k: (_ for _ in ()).throw(AssertionError('do not use solve'))\n"
    "assert np.allclose(solve(np.eye(2), np.ones(2)), np.ones(2))\n"
)


def test_a_replacement_from_the_test_fails_a_learner_who_calls_it_with_its_message(run_trusted):
    results = run_trusted(LIBRARY_SOLVER, REPLACED, "solve([[2.0]], [4.0])\n")
    assert outcomes(results) == [(False, "AssertionError", True)] * 2
    assert [r.error_message for r in results] == ["do not use solve"] * 2
    assert [(r.passed, r.error_message) for r in run_trusted(OWN_SOLVER, REPLACED)] == [(True, "")]


def test_a_spy_from_the_test_runs_on_the_trusted_side_with_the_learners_arguments(run_trusted):
    test = (
        "import numpy as np\n"
        "calls = []\n"
        "original = np.linalg.solve\n"
        "def spy(A, b):\n"
        "    calls.append(len(b))\n"
        "    return original(A, b)\n"
        "np.linalg.solve = spy\n"
        "x = solve(np.eye(2), np.ones(2))\n"
        "np.linalg.solve = original\n"
        "assert calls == [2] and np.allclose(x, np.ones(2)), calls\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(LIBRARY_SOLVER, test)] == [(True, "")]
    assert [r.error_message for r in run_trusted(OWN_SOLVER, test)] == ["[]"]


def test_a_learner_who_keeps_the_tests_replacement_gets_neither_its_code_nor_a_later_call(
    run_trusted, kernel
):
    cheat = (
        "import numpy as np\n"
        "kept = []\n"
        "def solve(A, b):\n"
        "    f = np.linalg.solve\n"
        "    kept.append(f)\n"
        "    for name in ('__code__', '__globals__', '__closure__', '__wrapped__'):\n"
        "        assert not hasattr(f, name), name\n"
        "    return np.ones(2)\n"
    )
    results = run_trusted(cheat, REPLACED)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")]
    # After the tests: the kernel's own solver is back, the kept proxy is dead.
    own = kernel.execute("assert np.linalg.solve([[2.0]], [4.0])[0] == 2.0\n", timeout=60)
    assert own.status == "ok"
    assert kernel.execute("kept[0]([[2.0]], [4.0])\n", timeout=60).status == "error"
