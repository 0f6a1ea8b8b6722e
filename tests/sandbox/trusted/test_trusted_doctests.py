"""OK-format doctests (otter's, okpy's) in the trusted runner: each example's output
checked as python's doctest checks it, a learner object's own repr never asked for."""

from __future__ import annotations

import pytest

from sandbox.trusted import CheckCell, helper, run_tests
from sandbox.trusted.printed import PRINTED_CUT, PRINTED_LIMIT


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


GREET = "def greet(name):\n    print('Hello', name)\n"


def test_what_the_learners_function_prints_is_the_examples_output(kernel):
    # given a learner's function that prints, and one that prints, calls back and prints
    answer = GREET + "def relay(f):\n    print('a')\n    f()\n    print('c')\n    return 7"
    results = run_doctests(
        kernel,
        answer,
        ">>> greet('bob')\nHello bob\n>>> greet('amy')\nHello amy",
        ">>> def shout():\n...     print('b')\n>>> relay(shout)\na\nb\nc\n7",
        ">>> greet('bob')\nHello bob!",
    )
    # then what it printed is compared, in order, as otter's doctest compares it
    assert results[:2] == [(True, "")] * 2
    assert results[2] == (False, ">>> greet('bob')\nExpected:\nHello bob!\nGot:\nHello bob\n")


def test_printing_a_later_examples_output_or_elsewhere_earns_nothing(kernel):
    # given functions that print what a later example expects, or print past the test
    answer = (
        "import os, sys\n"
        "def prepare():\n    print('Hello bob')\n"
        "def greet(name):\n    return None\n"
        "def dunder(name):\n    sys.__stdout__.write('Hello bob\\n'); sys.__stdout__.flush()\n"
        "def fd(name):\n    os.write(1, b'Hello bob\\n')\n"
        "def err(name):\n    print('Hello', name, file=sys.stderr)\n"
    )
    tests = [f">>> {f}('bob')\nHello bob" for f in ("dunder", "fd", "err")]
    results = run_doctests(kernel, answer, ">>> prepare()\n>>> greet('bob')\nHello bob", *tests)
    # then no example sees the text where it expects it
    assert [passed for passed, _ in results] == [False] * 4
    assert results[0][1].startswith(">>> prepare()\nExpected:\n(nothing)Got:\nHello bob\n")


def test_a_flood_of_printing_is_cut_and_breaks_nothing(kernel):
    # given a function that prints far more than any output, once and in a loop
    answer = GREET + "def flood(n):\n    print('Hello bob' * n)\n"
    results = run_doctests(
        kernel,
        answer,
        ">>> flood(10 ** 6)\nHello bob",
        ">>> for _ in range(200):\n...     flood(3000)\n>>> greet('bob')\nHello bob",
        ">>> greet('bob')\nHello bob",
    )
    # then those tests fail, with a bounded report, and the next test passes
    assert [passed for passed, _ in results] == [False, False, True]
    assert all(len(message) <= 2000 for _, message in results)
    # and what crosses is cut, marked, per answer and per test
    cells = [CheckCell(key="one", code="flood(10 ** 6)"), CheckCell(key="many", code=LOOP)]
    for result in run_tests(kernel, cells, cell_timeout_s=10):
        assert result.passed and result.stdout.endswith(PRINTED_CUT), result
        assert len(result.stdout) <= PRINTED_LIMIT


LOOP = "for _ in range(200):\n    flood(2000)"  # each answer whole, too much together


FAKE_HELPER = """
import json, socket, struct, sys, types
fake = types.ModuleType("fake")
def serve(path, ns):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    while True:
        head = s.recv(8)
        if len(head) < 8:
            return
        body_len, count = struct.unpack("!II", head)
        s.recv(8 * count + body_len, socket.MSG_WAITALL)
        body = json.dumps({"ok": None, "out": OUT}).encode()
        s.sendall(struct.pack("!II", len(body), 0) + body)
fake.serve = serve
sys.modules[KEY] = fake
"""


@pytest.mark.parametrize(
    "out", ["Hello bob\n", "Hello bob\n" * 2001, 5, ["Hello bob\n"], {"$": "h", "id": 1}]
)
def test_printed_output_out_of_place_or_shape_ends_the_link(kernel, out):
    # given a helper replaced by one that "prints" while it only looks a name up (no
    # learner code runs then), or prints what is not a string of a bounded size
    fake = FAKE_HELPER.replace("OUT", repr(out)).replace("KEY", repr(helper.KEY))
    # when a doctest that expects that text asks it for a name
    results = run_doctests(kernel, fake, ">>> answer  # doctest: +ELLIPSIS\nHello bob...")
    # then the test fails: nothing of it was taken as output
    assert results == [(False, "your notebook's kernel stopped answering (ProtocolError)")]
