"""Compatibility: tests written for an in-kernel run behave the same through the runner."""

from __future__ import annotations

import pytest

from sandbox.trusted import CheckCell, TrustedRunner, TrustedRunnerError, helper, run_tests

SQUARES = (
    "def squares(n):\n"
    "    if n < 1:\n"
    "        raise ValueError('n must be greater than or equal to 1')\n"
    "    return [i ** 2 for i in range(1, n + 1)]\n"
    "def sum_of_squares(n):\n"
    "    return sum(squares(n))\n"
)
USES_SQUARES = (
    "orig_squares = squares\n"
    "del squares\n"
    "try:\n"
    "    sum_of_squares(1)\n"
    "except NameError:\n"
    "    pass\n"
    "else:\n"
    "    raise AssertionError('sum_of_squares does not use squares')\n"
    "finally:\n"
    "    squares = orig_squares\n"
)
EXPECTS_ERROR = (
    "try:\n"
    "    squares(0)\n"
    "except ValueError:\n"
    "    pass\n"
    "else:\n"
    "    raise AssertionError('did not raise')\n"
)


def test_a_test_steps_a_learners_generator_with_next(run_trusted):
    answer = "def count():\n    yield 0\n    yield 1\n"
    test = "g = count()\nassert next(g) == 0 and next(g) == 1\nassert next(g, 'done') == 'done'"
    assert [(r.passed, r.error_message) for r in run_trusted(answer, test)] == [(True, "")]


def test_a_test_may_delete_a_learner_function_and_restore_it(run_trusted):
    results = run_trusted(SQUARES, USES_SQUARES, "assert squares(2) == [1, 4]")
    assert [r.passed for r in results] == [True, True]


def test_deleting_a_function_catches_an_answer_that_does_not_use_it(run_trusted):
    reimplemented = SQUARES.replace(
        "return sum(squares(n))", "return sum(i * i for i in range(1, n + 1))"
    )
    results = run_trusted(reimplemented, USES_SQUARES, "assert squares(2) == [1, 4]")
    assert [r.passed for r in results] == [False, True]


def test_the_restored_function_is_back_in_the_learners_namespace(kernel, run_trusted):
    run_trusted(SQUARES, USES_SQUARES)
    assert kernel.execute("assert squares(2) == [1, 4]").status == "ok"


def test_a_test_expecting_an_exception_passes_only_when_it_is_raised(run_trusted):
    assert [r.passed for r in run_trusted(SQUARES, EXPECTS_ERROR)] == [True]
    silent = "def squares(n):\n    return []\n"
    assert [r.passed for r in run_trusted(silent, EXPECTS_ERROR)] == [False]


def test_a_learner_exception_subclass_is_caught_as_its_builtin_base(run_trusted):
    custom = (
        "class BadInput(ValueError):\n    pass\ndef squares(n):\n    raise BadInput('negative')\n"
    )
    results = run_trusted(custom, EXPECTS_ERROR, "squares(1)")
    assert [r.passed for r in results] == [True, False]
    assert (results[1].error_type, results[1].error_message) == ("ValueError", "negative")
    assert results[1].from_learner


def test_the_last_numeric_value_of_a_test_is_reported_for_partial_credit(run_trusted):
    results = run_trusted(
        SQUARES,
        "sum(squares(n)[-1] == n * n for n in (1, 2, 3)) / 2",
        "squares(2) == [1, 4]",
        "len(squares(3))",
    )
    assert [r.value for r in results] == [1.5, None, 3.0]
    assert results[1].value_repr == "True"


def test_names_resolve_inside_functions_lambdas_and_generators(run_trusted):
    test = (
        "def check(n):\n    return squares(n)[-1] == n * n\n"
        "assert all(check(n) for n in range(1, 5))\n"
        "assert list(map(lambda n: sum_of_squares(n), [1, 2])) == [1, 5]\n"
        "assert [x for x in squares(3)] == [1, 4, 9]\n"
    )
    assert [r.passed for r in run_trusted(SQUARES, test)] == [True]


def test_learner_objects_are_handles_whose_attributes_and_items_are_data(run_trusted):
    answer = (
        "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
        "    def norm2(self):\n        return self.x ** 2 + self.y ** 2\n"
        "p = Point(3, 4)\nregistry = {'a': p}\nitems = iter([1, 2])\n"
    )
    test = (
        "assert p.x == 3 and p.norm2() == 25\n"
        "assert registry['a'].y == 4\n"
        "assert 3 in [p.x]\n"
        "assert type(p).__name__ == 'Remote' and bool(p) is True\n"
    )
    assert [r.passed for r in run_trusted(answer, test)] == [True]


def test_learner_values_are_never_compared_by_their_own_methods(run_trusted):
    answer = (
        "class Liar:\n    def __eq__(self, other): return True\n"
        "    def __lt__(self, other): return True\n    def __hash__(self): return 1\n"
        "    def __contains__(self, item): return True\n"
        "    def __iter__(self): return iter([])\nliar = Liar()\n"
    )
    tests = (
        "assert liar == 1",
        "assert liar < 0",
        "assert 5 in liar",
        "assert {liar: 1}.get(Liar()) == 1",
    )
    assert [r.passed for r in run_trusted(answer, *tests)] == [False] * 4


def test_numpy_arrays_cross_as_data(run_trusted):
    answer = (
        "import numpy as np\ndef evens(n):\n    return np.arange(0, 2 * n, 2)\n"
        "class ArrayLike:\n    def __array__(self, dtype=None, copy=None):\n"
        "        return np.ones(3)\nlike = ArrayLike()\n"
    )
    tests = (
        "import numpy as np\nassert np.allclose(evens(3), [0, 2, 4])\n"
        "assert evens(3).dtype.kind == 'i'\n",
        "import numpy as np\nnp.testing.assert_allclose(like, np.ones(3))",
        "import numpy as np\nassert evens(np.int64(2)).tolist() == [0, 2]",
    )
    assert [r.passed for r in run_trusted(answer, *tests)] == [True, True, True]


def test_pandas_frames_cross_as_data_both_ways(run_trusted):
    answer = (
        "import pandas as pd\n"
        "people = pd.DataFrame({'name': ['ada', 'bob'], 'age': [36, 41],\n"
        "                       'team': pd.Categorical(['x', 'y'])}).set_index('name')\n"
        "def adults(frame):\n    return frame[frame['age'] >= 40]\n"
        "ages = people['age']\n"
    )
    test = (
        "import pandas as pd\n"
        "expected = pd.DataFrame({'name': ['ada', 'bob'], 'age': [36, 41],\n"
        "                         'team': pd.Categorical(['x', 'y'])}).set_index('name')\n"
        "pd.testing.assert_frame_equal(people, expected)\n"
        "pd.testing.assert_series_equal(ages, expected['age'])\n"
        "merged = people.merge(pd.DataFrame({'team': ['x'], 'lead': [True]}), on='team')\n"
        "assert merged['lead'].tolist() == [True]\n"
        "assert adults(expected).index.tolist() == ['bob']\n"
    )
    assert [r.passed for r in run_trusted(answer, test)] == [True]


def test_names_a_test_binds_persist_across_sessions_without_entering_the_kernel(kernel):
    kernel.execute(SQUARES)
    with TrustedRunner(kernel, cell_timeout_s=10) as runner:
        first = runner.run([CheckCell("a", "expected = [1, 4, 9]\nassert squares(3) == expected")])
        kernel.execute("leak = 'expected' in globals()")
        second = runner.run([CheckCell("b", "assert squares(3) == expected\nassert not leak")])
    assert [r.passed for r in first + second] == [True, True]


def test_a_kernel_whose_zygote_defined_the_helper_is_sent_only_what_starts_it(kernel, request):
    sent: list[str] = []
    execute = kernel.execute

    def recording(code, **kwargs):
        sent.extend((kwargs.get("user_expressions") or {}).values())
        return execute(code, **kwargs)

    kernel.execute = recording
    kernel.execute(SQUARES)
    results = run_tests(kernel, [CheckCell("t", "assert squares(2) == [1, 4]")], cell_timeout_s=10)

    defined = helper.KEY in getattr(kernel, "modules_from_source", ())
    assert defined == (request.node.callspec.params["kernel"] == "grading")
    assert [r.passed for r in results] == [True]
    # The loader (the helper's compiled code and source) only where the kernel lacks it.
    assert [len(expression) < 1000 for expression in sent] == [defined]


def test_a_test_that_never_ends_is_stopped_and_reported(run_trusted):
    results = run_trusted(
        SQUARES, "while True:\n    pass", "assert squares(1) == [1]", cell_timeout_s=5
    )
    assert [r.passed for r in results] == [False, True]
    assert not results[0].from_learner


def test_a_trusted_process_that_ignores_its_alarm_is_killed_and_the_test_fails(run_trusted):
    stuck = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
    results = run_trusted(SQUARES, stuck + "while True:\n    pass", "squares(1)", cell_timeout_s=1)
    assert [(r.passed, r.error_message) for r in results] == [
        (False, "a test did not finish in time"),
        (False, "a test did not finish in time"),
    ]


def test_a_crash_of_the_trusted_process_is_an_infrastructure_error(kernel):
    kernel.execute(SQUARES)
    with pytest.raises(TrustedRunnerError):
        run_tests(kernel, [CheckCell("t", "import os\nos._exit(3)")], cell_timeout_s=5)


def test_a_last_value_that_is_not_a_finite_number_earns_nothing(run_trusted):
    results = run_trusted("nan = float('nan')\n", "nan", "float('inf')")
    assert [r.value for r in results] == [0.0, 0.0]


def test_instructor_imports_are_bound_one_by_one_on_the_trusted_side(kernel):
    kernel.execute(SQUARES + "import math\nmath = None\n")
    with TrustedRunner(kernel, cell_timeout_s=10) as runner:
        complete = runner.define("import no_such_course_module\nimport math\n")
        results = runner.run([CheckCell("t", "assert math.isclose(sum_of_squares(2), 5.0)")])
    assert complete is False
    assert [r.passed for r in results] == [True]


def test_a_learner_function_mutating_the_tests_arguments_is_seen_by_the_test(run_trusted):
    answer = (
        "def sort_in_place(items):\n    items.sort()\n"
        "def keep(items):\n    return sorted(items)\n"
        "def tag(record, *, seen):\n    record['tagged'] = True\n    seen.add(1)\n"
        "def zero(array):\n    array[:] = 0\n"
    )
    tests = (
        "data = [3, 1, 2]\nsort_in_place(data)\nassert data == [1, 2, 3]",
        "data = [3, 1, 2]\nsort_in_place(data)\nassert data == [3, 1, 2], 'must not mutate'",
        "data = [3, 1, 2]\nkeep(data)\nassert data == [3, 1, 2], 'must not mutate'",
        "record, seen = {}, set()\ntag(record, seen=seen)\nassert record == {'tagged': True}\n"
        "assert seen == {1}",
        "import numpy as np\narray = np.ones(3)\nzero(array)\nassert not array.any()",
    )
    assert [r.passed for r in run_trusted(answer, *tests)] == [True, False, True, True, True]


def test_a_name_read_twice_crosses_once_unless_the_kernel_ran_code_in_between(run_trusted):
    answer = "count = 0\ndef bump():\n    global count\n    count += 1\n"
    test = "before = count\nassert count == before\nbump()\nassert count == before + 1"
    assert [r.passed for r in run_trusted(answer, test)] == [True]


def test_a_data_librarys_own_exception_can_be_expected_by_a_test(run_trusted):
    answer = (
        "import numpy as np\n"
        "def invert(m):\n    return np.linalg.inv(m)\n"
        "class Mine(np.linalg.LinAlgError):\n    pass\n"
        "def custom():\n    raise Mine('singular')\n"
    )
    expects = "import numpy as np\ntry:\n    {call}\nexcept np.linalg.LinAlgError:\n    pass\n"
    expects += "else:\n    raise AssertionError('no error')"
    tests = (
        expects.format(call="invert([[1, 2], [2, 4]])"),
        expects.format(call="custom()"),
        "invert([[1, 2], [2, 4]])",
    )
    results = run_trusted(answer, *tests)
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].error_type == "LinAlgError"
