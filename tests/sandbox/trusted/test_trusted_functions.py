"""A test's own functions passed to the learner's code: root finding, integration, ODEs."""

from __future__ import annotations

import secrets
import textwrap

NEWTON = textwrap.dedent("""
    def newton_iteration(f, df, x0, tol=1e-12, max_steps=100):
        x = x0
        for _ in range(max_steps):
            step = f(x) / df(x)
            x -= step
            if abs(step) < tol:
                return x
        raise RuntimeError("no convergence")
""")
NEWTON_TEST = (
    "x = newton_iteration(lambda x: x**2 - 2, lambda x: 2*x, 1.0)\nassert abs(x - 2 ** 0.5) < 1e-10"
)


def test_a_root_finder_gets_the_tests_functions_and_passes(run_trusted):
    assert [r.passed for r in run_trusted(NEWTON, NEWTON_TEST)] == [True]


def test_a_wrong_root_finder_still_fails(run_trusted):
    wrong = NEWTON.replace("x -= step", "x += step")
    results = run_trusted(wrong, NEWTON_TEST)
    assert [r.passed for r in results] == [False]


def test_a_test_function_may_call_the_learners_code_again(run_trusted):
    # given a learner's apply and double, and a test function that calls double back
    answer = "def apply(f, x):\n    return f(x) + 1\ndef double(x):\n    return 2 * x\n"
    test = "assert apply(lambda x: double(x) * 10, 3) == 61"
    assert [r.passed for r in run_trusted(answer, test)] == [True]


def test_ten_thousand_calls_from_a_loop_all_arrive(run_trusted):
    answer = (
        "def integrate(f, a, b, n):\n"
        "    h = (b - a) / n\n"
        "    return h * sum(f(a + (i + 0.5) * h) for i in range(n))\n"
    )
    test = (
        "calls = []\n"
        "def f(x):\n    calls.append(x)\n    return x * x\n"
        "assert abs(integrate(f, 0.0, 3.0, 10_000) - 9.0) < 1e-6\n"
        "assert len(calls) == 10_000"
    )
    assert [r.passed for r in run_trusted(answer, test, cell_timeout_s=60)] == [True]


def test_an_exception_from_the_tests_function_reaches_the_learner_by_type(run_trusted):
    answer = textwrap.dedent("""
        def safe_call(f, x):
            try:
                return f(x)
            except ZeroDivisionError as exc:
                return str(exc)
        def call(f, x):
            return f(x)
    """)
    tests = (
        "def inverse(x):\n    return 1 / x\nassert safe_call(inverse, 0) == 'division by zero'",
        "def refuse(x):\n    raise ValueError('no negatives: ' + str(x))\ncall(refuse, -1)",
    )
    results = run_trusted(answer, *tests)
    assert results[0].passed
    assert (results[1].passed, results[1].error_type) == (False, "ValueError")
    assert results[1].error_message == "no negatives: -1"


def test_mutual_recursion_past_the_limit_fails_that_test_only(run_trusted):
    answer = "def step(f, n):\n    return f(n)\n"
    tests = (
        "def down(n):\n    return step(down, n - 1) if n else 'bottom'\n"
        "assert step(down, 20) == 'bottom'",
        "def down(n):\n    return step(down, n - 1) if n else 'bottom'\nstep(down, 10_000)",
        "assert step(lambda n: n + 1, 1) == 2",
    )
    results = run_trusted(answer, *tests)
    assert [r.passed for r in results] == [True, False, True]
    assert results[1].error_type == "RecursionError"


def test_values_of_every_plain_kind_cross_both_ways(run_trusted):
    answer = textwrap.dedent("""
        import numpy as np
        def run(f):
            return f(np.arange(3.0), scale=2, labels={"a": (1, 2)})
        def identity(f):
            return f
        class Box:
            def __init__(self, v):
                self.v = v
        def boxed(f):
            return f(Box(21))
        def shape_of(f):
            return f(np.zeros((2, 3)))
    """)
    tests = (
        "import numpy as np\n"
        "def f(xs, scale, labels):\n    return {'sum': float(np.sum(xs)) * scale, **labels}\n"
        "assert run(f) == {'sum': 6.0, 'a': (1, 2)}",
        "g = lambda: 1\nassert identity(g) is g",
        "assert boxed(lambda box: box.v * 2) == 42",
        "assert shape_of(np.shape) == (2, 3)",
    )
    assert [r.passed for r in run_trusted(answer, *tests)] == [True] * 4


def test_numbers_keep_their_exact_types_on_the_short_path_and_off_it(run_trusted):
    answer = textwrap.dedent("""
        import numpy as np
        def ask(f):
            out = f(1, 2.5, True, None)
            assert out == (1, 2.0, False, None), out
            assert [type(v) for v in out] == [int, float, bool, type(None)]
            assert type(f(2 ** 70, 0.0)) is int and f(np.float64(2.0), 0) == 2.0
            return [type(v).__name__ for v in f(0.5, 1.5, as_list=True)]
    """)
    test = (
        "def f(*args, as_list=False):\n"
        "    if as_list:\n        return list(args)\n"
        "    if len(args) == 2:\n        return args[0]\n"
        "    assert [type(v) for v in args] == [int, float, bool, type(None)], args\n"
        "    return (1, 2.0, False, None)\n"
        "assert ask(f) == ['float', 'float']"
    )
    results = run_trusted(answer, test)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")]


def test_a_forged_numbers_answer_fails_the_test(run_trusted):
    cheat = textwrap.dedent("""
        def twice(f, x):
            helper = type(f).__call__.__globals__
            helper["send_frame"](f._session.sock, helper["fast_frame"]("ok", 1, 2 * x), [])
            return 2 * x
    """)
    results = run_trusted(cheat, "assert twice(lambda x: x, 2) == 4")
    assert [r.passed for r in results] == [False]


def test_a_kept_test_function_cannot_be_called_after_its_test(kernel, run_trusted):
    answer = "kept = []\ndef keep(f):\n    kept.append(f)\n    return f(1)\n"
    results = run_trusted(answer, "assert keep(lambda x: x + 1) == 2")
    assert [r.passed for r in results] == [True]
    later = kernel.execute("kept[0](1)")
    assert later.status == "error"


def test_a_library_function_from_a_test_is_the_kernels_own_copy(run_trusted):
    answer = (
        "def kind(f):\n    return type(f).__name__\n"
        "def integrate(f, a, b, n):\n"
        "    h = (b - a) / n\n"
        "    return h * sum(f(a + (i + 0.5) * h) for i in range(n))\n"
    )
    tests = (
        "import numpy as np, math\n"
        "assert [kind(np.sin), kind(math.cos), kind(abs)] == "
        "['ufunc', 'builtin_function_or_method', 'builtin_function_or_method']\n"
        "assert kind(lambda x: x) == 'TestFunction'",
        "import numpy as np\nassert abs(integrate(np.sin, 0.0, np.pi, 100_000) - 2.0) < 1e-6",
    )
    assert [r.passed for r in run_trusted(answer, *tests, cell_timeout_s=60)] == [True, True]


# Cheats: the learner holds a proxy, never the function.


def test_the_learner_reads_no_code_globals_or_closure_of_a_test_function(run_trusted):
    secret, planted = secrets.token_hex(16), secrets.token_hex(16)
    probe = textwrap.dedent(f"""
        import collections, gc
        PLANTED = "{planted[:16]}" + "{planted[16:]}"
        class AlwaysEqual:
            def __eq__(self, other):
                return True
        def probe(f):
            texts, todo, seen = [], collections.deque([f, type(f), f._session.ns]), set()
            while todo and len(seen) < 20000:
                obj = todo.popleft()
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
                if isinstance(obj, str):
                    texts.append(obj)
                    continue
                for name in dir(obj):
                    try:
                        todo.append(getattr(obj, name))
                    except Exception:
                        pass
                todo.extend(gc.get_referents(obj))
            return [t for t in texts if len(t) == 32], f(AlwaysEqual())
    """)
    test = (
        f"expected = {secret!r}\n"
        "def check(x):\n    return x == expected\n"
        "found, equal = probe(check)\n"
        f"assert {planted!r} in found, 'the search is blind'\n"
        "assert expected not in found and equal is False"
    )
    results = run_trusted(probe, test, cell_timeout_s=60)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")]


def test_a_forged_test_function_number_fails_the_test(run_trusted):
    cheat = textwrap.dedent("""
        def twice(f, x):
            try:
                type(f)(f._session, 999, "forged")(x)
            except BaseException:
                pass
            return 2 * x
    """)
    results = run_trusted(cheat, "assert twice(lambda x: x, 2) == 4")
    assert [r.passed for r in results] == [False]


def test_learner_code_catching_errors_cannot_outlive_the_tests_time_limit(run_trusted):
    cheat = textwrap.dedent("""
        def spin(f):
            # every error the test's side sends is swallowed, for as long as the test runs
            while f._session.open:
                try:
                    f(1)
                except Exception:
                    pass
    """)
    results = run_trusted(
        cheat, "def slow(x):\n    while True:\n        pass\nspin(slow)", cell_timeout_s=2
    )
    assert [(r.passed, r.error_type) for r in results] == [(False, "TimeoutError")]
