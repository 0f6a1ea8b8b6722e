"""Names a test binds at its top level are globals for the learner's functions."""

from __future__ import annotations

import secrets
import textwrap

SOLVE = textwrap.dedent("""
    import numpy as np
    def solve(b):
        return np.linalg.solve(A, b)
    def residual(x, b):
        return float(np.max(np.abs(A @ x - b)))
    def checked_solve(b):
        x = solve(b)
        assert residual(x, b) < 1e-9
        return x
""")


def test_a_learner_function_reads_a_matrix_the_test_binds(run_trusted):
    test = (
        "import numpy as np\n"
        "A = np.asarray([[2.0, 0.0], [0.0, 4.0]])\n"
        "assert np.allclose(solve(np.array([2.0, 4.0])), [1.0, 1.0])"
    )
    assert [r.passed for r in run_trusted(SOLVE, test)] == [True]


def test_helpers_the_function_calls_see_the_name_too(run_trusted):
    test = (
        "import numpy as np\nA = np.eye(3) * 2\nassert list(checked_solve(np.ones(3))) == [0.5] * 3"
    )
    assert [r.passed for r in run_trusted(SOLVE, test)] == [True]


def test_a_name_rebound_between_calls_is_seen_anew(run_trusted):
    answer = textwrap.dedent("""
        def scaled(x):
            return factor * x
        class Scaler:
            def apply(self, x):
                return factor * x
    """)
    test = (
        "factor = 2\nassert scaled(3) == 6\n"
        "factor = 5\nassert scaled(3) == 15\nassert Scaler().apply(2) == 10\n"
        "del factor\ntry:\n    scaled(1)\nexcept NameError:\n    pass\n"
        "else:\n    raise AssertionError('factor is still there')"
    )
    assert [r.passed for r in run_trusted(answer, test)] == [True]


def test_a_function_the_test_defines_is_a_global_for_the_learner(run_trusted):
    answer = "def total(xs):\n    return sum(weight(x) for x in xs)\n"
    test = "def weight(x):\n    return 10 * x\nassert total([1, 2]) == 30"
    assert [r.passed for r in run_trusted(answer, test)] == [True]


def test_the_kernel_gets_its_own_values_back_after_the_tests(kernel, run_trusted):
    answer = SOLVE + "A = 'the learner kept this'\n"
    test = "import numpy as np\nA = np.eye(2)\nB = 3\nassert list(solve(np.ones(2))) == [1.0, 1.0]"
    assert [r.passed for r in run_trusted(answer, test)] == [True]
    assert kernel.execute("assert A == 'the learner kept this'").status == "ok"
    assert kernel.execute("B").status == "error"


def test_names_no_learner_code_mentions_never_reach_the_kernel(run_trusted):
    # given a learner function that sweeps its module's globals for hex strings, and a
    # test that binds an expected value next to an input the function does read
    secret = secrets.token_hex(16)
    answer = textwrap.dedent("""
        import re
        def sweep():
            seen = [data]
            for value in list(globals().values()):
                if isinstance(value, str) and re.fullmatch("[0-9a-f]{32}", value):
                    seen.append(value)
            return seen
    """)
    test = f"expected = {secret!r}\ndata = 'input'\nfound = sweep()\nassert found == ['input']"
    # then the test passes: the sweep found the input and not the expected value
    assert [(r.passed, r.error_message) for r in run_trusted(answer, test)] == [(True, "")]
