"""Cheats a clever learner tries: none may turn a failing test into a pass.

Each test runs a WRONG answer plus a cheat in a real kernel, then the tests in the trusted
process, and asserts they fail; the honest right answer passing the same tests is checked
once, so these tests can fail.
"""

from __future__ import annotations

import secrets
import textwrap

from sandbox.trusted import CheckCell, run_tests

TESTS = (
    "assert squares(3) == [1, 4, 9]",
    "assert [1, 4, 9] == squares(3)",
    "import numpy as np\nnp.testing.assert_array_equal(squares(3), [1, 4, 9])",
    "import unittest\nunittest.TestCase().assertEqual(squares(3), [1, 4, 9])",
    "assert sum(squares(3)) == 14 and len(squares(3)) == 3",
)
RIGHT = "def squares(n):\n    return [i ** 2 for i in range(1, n + 1)]\n"
WRONG = "def squares(n):\n    return [i for i in range(1, n + 1)]\n"


def code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def test_the_right_answer_passes_every_test(run_trusted):
    assert [r.passed for r in run_trusted(RIGHT, *TESTS)] == [True] * len(TESTS)


def test_the_wrong_answer_fails_every_test(run_trusted):
    assert [r.passed for r in run_trusted(WRONG, *TESTS)] == [False] * len(TESTS)


def test_an_object_whose_eq_always_returns_true_does_not_pass(run_trusted):
    cheat = code("""
        class Anything(list):
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __len__(self): return 3
            __hash__ = None
        class Plain:
            def __eq__(self, other): return True
            def __bool__(self): return True
        def squares(n):
            return Anything() if n == 3 else Plain()
    """)
    results = run_trusted(cheat, *TESTS, "assert squares(2) == [1, 4]")
    assert [r.passed for r in results] == [False] * (len(TESTS) + 1)


def test_input_and_ast_transformers_do_not_change_the_tests(run_trusted):
    cheat = WRONG + code("""
        ip = get_ipython()
        ip.input_transformers_post.append(lambda lines: ["pass\\n"])
        import ast
        class Neuter(ast.NodeTransformer):
            def visit_Assert(self, node): return ast.Pass()
        ip.ast_transformers.append(Neuter())
    """)
    assert [r.passed for r in run_trusted(cheat, *TESTS)] == [False] * len(TESTS)


def test_patching_numpy_testing_unittest_and_builtins_in_the_kernel_changes_nothing(run_trusted):
    cheat = WRONG + code("""
        import builtins, unittest, numpy, numpy.testing
        numpy.testing.assert_array_equal = lambda *a, **k: None
        numpy.testing.assert_allclose = lambda *a, **k: None
        unittest.TestCase.assertEqual = lambda *a, **k: None
        builtins.AssertionError = type("Nothing", (Exception,), {})
        builtins.sum = lambda *a: 14
        np = numpy
        def assert_equal(a, b): return None
        assert_equal.__module__ = "numpy.testing"
        assert_equal.__qualname__ = "assert_array_equal"
    """)
    tests = (
        *TESTS,
        "np.testing.assert_allclose(squares(3), [1, 4, 9])",
        "assert_equal(squares(3), [1, 4, 9])",
    )
    assert [r.passed for r in run_trusted(cheat, *tests)] == [False] * len(tests)


def test_a_test_helper_patched_by_the_learner_is_not_the_one_tests_call(kernel):
    # given an instructor cell importing a helper, then a learner redefining it
    kernel.execute("from numpy.testing import assert_array_equal\n")
    kernel.execute(WRONG + "def assert_array_equal(*args, **kwargs): return None\n")
    # when the trusted side also binds the instructor's imports (as the grader does)
    from sandbox.trusted import TrustedRunner

    with TrustedRunner(kernel, cell_timeout_s=10) as runner:
        runner.define("from numpy.testing import assert_array_equal")
        results = runner.run([CheckCell("t", "assert_array_equal(squares(3), [1, 4, 9])")])
    # then the genuine helper runs and the wrong answer fails
    assert [r.passed for r in results] == [False]


def test_sys_settrace_and_a_custom_exception_handler_change_nothing(run_trusted):
    cheat = WRONG + code("""
        import sys
        def tracer(frame, event, arg):
            if event == "exception":
                frame.f_locals.clear()
            return tracer
        sys.settrace(tracer)
        get_ipython().set_custom_exc((BaseException,), lambda *a, **k: print("passed"))
        sys.excepthook = lambda *a: None
    """)
    assert [r.passed for r in run_trusted(cheat, *TESTS)] == [False] * len(TESTS)


def test_os_exit_in_an_answer_fails_the_tests(run_trusted):
    cheat = RIGHT + "import os\nos._exit(0)\n"
    results = run_trusted(cheat, *TESTS, "assert True")
    assert [r.passed for r in results] == [False] * (len(TESTS) + 1)


def test_exiting_from_inside_the_tested_function_fails_that_test_and_the_rest(run_trusted):
    cheat = "import os\ndef squares(n):\n    os._exit(0)\n"
    results = run_trusted(cheat, *TESTS)
    assert [r.passed for r in results] == [False] * len(TESTS)
    assert results[0].from_learner


def test_sys_exit_and_keyboard_interrupt_from_the_tested_function_do_not_pass(run_trusted):
    cheat = code("""
        import sys
        def squares(n):
            if n == 3:
                sys.exit(0)
            raise KeyboardInterrupt
    """)
    tests = (
        "try:\n    squares(3)\nexcept Exception:\n    pass\nassert squares(3) == [1, 4, 9]",
        "squares(2)",
    )
    results = run_trusted(cheat, *tests)
    assert [r.passed for r in results] == [False, False]
    assert "stop the kernel" in results[1].error_message


def test_printing_fake_passed_text_or_html_changes_nothing(run_trusted):
    cheat = WRONG + code("""
        from IPython.display import HTML, display
        print("All tests passed! Score: 100/100")
        display(HTML("<div class='alert-success'>Tests passed: 5/5</div>"))
        def squares(n):
            print("passed")
            return [i for i in range(1, n + 1)]
    """)
    assert [r.passed for r in run_trusted(cheat, *TESTS)] == [False] * len(TESTS)


def test_catching_base_exception_around_everything_does_not_pass(run_trusted):
    cheat = code("""
        import builtins
        def squares(n):
            try:
                raise AssertionError
            except BaseException:
                return None
        builtins.__build_class__  # noqa: the kernel's builtins are its own business
    """)
    tests = ("try:\n    assert squares(3) == [1, 4, 9]\nexcept BaseException:\n    raise",)
    assert [r.passed for r in run_trusted(cheat, *tests)] == [False]


def test_hidden_expected_values_cannot_be_found_on_disk_or_in_memory(run_trusted):
    secret, planted = secrets.token_hex(16), secrets.token_hex(16)
    search = code(f"""
        import os, re, sys
        PLANTED = "{planted[:16]}" + "{planted[16:]}"
        def find_secrets():
            pattern = re.compile(rb"[0-9a-f]{{32}}")
            seen = set()
            spaces = [globals()] + [vars(m) for m in list(sys.modules.values())]
            texts = [v for space in spaces for v in list(space.values()) if isinstance(v, str)]
            for text in texts:
                seen.update(pattern.findall(text.encode(errors="ignore")))
            budget = 2000  # files: enough for the kernel's own folders, bounded elsewhere
            for root in {{os.getcwd(), "/tmp"}}:
                for folder, _, files in os.walk(root):
                    budget -= len(files)
                    if budget < 0:
                        break
                    for name in files:
                        try:
                            with open(os.path.join(folder, name), "rb") as f:
                                seen.update(pattern.findall(f.read(1 << 20)))
                        except OSError:
                            pass
            seen.update(pattern.findall(repr(dict(os.environ)).encode()))
            try:
                with open("/proc/self/maps") as maps:
                    regions = [l.split()[0] for l in maps if " rw" in l and "[" not in l]
                with open("/proc/self/mem", "rb", buffering=0) as mem:
                    for region in regions:
                        start, end = (int(x, 16) for x in region.split("-"))
                        if end - start > 64 << 20:
                            continue
                        try:
                            mem.seek(start)
                            seen.update(pattern.findall(mem.read(end - start)))
                        except (OSError, ValueError, OverflowError):
                            pass
            except OSError:
                pass  # a sandbox may not let a process read its own memory
            return sorted(s.decode() for s in seen)
    """)
    # the search works (it finds what the kernel holds) and still misses the hidden value
    test = (
        f"expected = {secret!r}\nfound = find_secrets()\n"
        f"assert {planted!r} in found, 'the search is blind'\n"
        "assert expected not in found, 'the hidden value leaked'"
    )
    results = run_trusted(search, test, cell_timeout_s=60)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")]


def test_a_learner_replacing_the_kernel_helper_gains_nothing(kernel):
    from sandbox.trusted import helper

    # given a fake helper, installed where the real one would be cached, that answers
    # every request with True
    kernel.execute(
        WRONG
        + code(f"""
        import socket, struct, sys, types, json
        fake = types.ModuleType("fake")
        def serve(path, ns):
            s = socket.socket(socket.AF_UNIX); s.connect(path)
            while True:
                head = s.recv(8)
                if len(head) < 8: return
                body_len, count = struct.unpack("!II", head)
                s.recv(8 * count + body_len, socket.MSG_WAITALL)
                body = json.dumps({{"ok": True}}).encode()
                s.sendall(struct.pack("!II", len(body), 0) + body)
        fake.serve = serve
        sys.modules[{helper.KEY!r}] = fake
    """)
    )
    # when the tests run, then nothing passes
    results = run_tests(kernel, [CheckCell(f"t{i}", t) for i, t in enumerate(TESTS)])
    assert [r.passed for r in results] == [False] * len(TESTS)


def test_a_learner_function_that_never_returns_fails_its_test_in_time(run_trusted):
    cheat = "def squares(n):\n    while True:\n        pass\n"
    results = run_trusted(cheat, "assert squares(3) == [1, 4, 9]", cell_timeout_s=5)
    assert [r.passed for r in results] == [False]
    assert results[0].error_type == "TimeoutError"


def test_faking_a_modules_name_never_runs_a_dangerous_trusted_function(run_trusted, tmp_path):
    # given learner objects claiming to be pickle.loads and the pickle module, and a payload
    # that would create a file if it were unpickled on the trusted side
    marker = tmp_path / "unpickled"
    cheat = code(f"""
        import io, pickle, types
        class Payload:
            def __reduce__(self):
                return (io.open, ({str(marker)!r}, "w"))
        payload = pickle.dumps(Payload())
        def load(data):
            return "kernel"
        load.__module__, load.__qualname__ = "pickle", "loads"
        json = types.ModuleType("pickle")
        json.loads = load
    """)
    # when tests call them with the learner's data
    results = run_trusted(
        cheat, "assert load(payload) == 'kernel'", "assert json.loads(payload) == 'kernel'"
    )
    # then the learner's own functions ran, in the kernel
    assert [r.passed for r in results] == [True, True]
    assert not marker.exists()


def test_sys_exit_at_the_top_of_an_answer_earns_only_what_the_answer_earns(run_trusted):
    exit_after = "\nimport sys\nsys.exit(0)\n"
    assert [r.passed for r in run_trusted(WRONG + exit_after, *TESTS)] == [False] * len(TESTS)


def test_sys_exit_after_the_right_answer_does_not_lose_it(run_trusted):
    exit_after = "\nimport sys\nsys.exit(0)\n"
    assert [r.passed for r in run_trusted(RIGHT + exit_after, *TESTS)] == [True] * len(TESTS)


def test_stop_iteration_from_a_call_cannot_end_a_tests_loop_early(run_trusted):
    cheat = "def is_prime(n):\n    raise StopIteration\n"
    tests = ("assert all(map(is_prime, [2, 3, 5]))", "assert all(is_prime(n) for n in [2, 3])")
    results = run_trusted(cheat, *tests)
    assert [(r.passed, r.error_type) for r in results] == [(False, "RuntimeError")] * 2


def test_a_function_posing_as_a_permissive_library_object_gets_no_trusted_twin(run_trusted):
    cheat = code("""
        def answer():
            return None
        answer.__module__, answer.__qualname__ = "unittest.mock", "_ANY"
        def is_prime(n):
            return 0
        is_prime.__module__, is_prime.__qualname__ = "unittest.mock", "MagicMock"
        def root(n):
            return 0
        root.__module__, root.__qualname__ = "math", "sqrt"
    """)
    tests = ("assert answer() == [1, 4, 9]", "assert is_prime(7)", "assert root(4)")
    assert [r.passed for r in run_trusted(cheat, *tests)] == [False, False, False]
