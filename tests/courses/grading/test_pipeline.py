"""The grading pipeline on real kernels (local, unsandboxed; one test in the sandbox): the
learner's cells in the kernel, the tests in the trusted runner, the outcomes scored."""

from __future__ import annotations

import json
from dataclasses import dataclass

import nbformat

from courses.assignment import (
    learner_cells,
    missing_tests,
    parse_exercise,
    stored_notebook,
    student_notebook,
)
from courses.grading.pipeline import NBGRADER_EXECUTION, grade_notebook, instructor_definitions
from sandbox import Limits as SandboxLimits
from sandbox import launch
from tests.support.exercises import NOTEBOOKS, metadata_lost, two_parts_exercise
from tests.support.insecure_kernel import InsecureLocalKernel

SQUARES = (
    "def squares(n):\n    if n < 1:\n        raise ValueError('n < 1')\n"
    "    return [i ** 2 for i in range(1, n + 1)]"
)
SUM_OF_SQUARES = "def sum_of_squares(n):\n    return sum(squares(n))"
HALVE = "def halve(x):\n    return x * 0.5"
WRONG_HALF = "def halve(x):\n    return x // 2"


@dataclass(frozen=True)
class Limits:
    cell_timeout_s: float = 10.0
    total_timeout_s: float = 60.0


def test_instructor_definitions_keep_only_imports_functions_and_classes():
    source = "import numpy as np\ndata = load()\ndef helper(x):\n    return x\nprint(1)"
    assert instructor_definitions(source) == "import numpy as np\n\ndef helper(x):\n    return x"
    assert instructor_definitions("%matplotlib inline") == ""


def submit(exercise, answers: dict[str, str]) -> dict:
    notebook = json.loads(json.dumps(student_notebook(exercise=exercise)))
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return notebook


def grade(exercise, submission, **limits):
    report = grade_notebook(
        source=exercise,
        submission=submission,
        kernel_factory=InsecureLocalKernel,
        limits=Limits(**limits),
    )
    return report, {t.grade_id: t.points for t in report.tests}


def test_the_documented_solution_earns_every_autograded_point(problem1):
    solution = json.loads((NOTEBOOKS / "nbgrader_problem1.ipynb").read_text())
    report, points = grade(problem1, solution)
    assert (report.score, report.max_score, report.pending_points) == (3.0, 6.0, 3.0)
    assert points["correct_squares"] == 1.0 and points["sum_of_squares_uses_squares"] == 0.5
    json.dumps(report.as_dict(instructor=True))


def test_the_untouched_student_version_earns_nothing(problem1):
    report, _ = grade(problem1, student_notebook(exercise=problem1))
    assert report.score == 0.0
    assert {t.status for t in report.tests} == {"failed", "pending"}


def test_an_answer_that_does_not_use_squares_loses_only_that_test(problem1):
    reimplemented = "def sum_of_squares(n):\n    return sum(i * i for i in range(1, n + 1))"
    report, points = grade(
        problem1, submit(problem1, {"squares": SQUARES, "sum_of_squares": reimplemented})
    )
    assert report.score == 2.5
    assert points["sum_of_squares_uses_squares"] == 0.0


def test_editing_or_deleting_test_cells_does_not_raise_the_score(problem1):
    wrong = "def squares(n):\n    return list(range(n))"
    honest, _ = grade(
        problem1, submit(problem1, {"squares": wrong, "sum_of_squares": SUM_OF_SQUARES})
    )
    cheat = submit(
        problem1,
        {
            "squares": wrong,
            "sum_of_squares": SUM_OF_SQUARES,
            "correct_squares": "pass",
            "correct_sum_of_squares": "pass",
        },
    )
    cheat["cells"] = [
        c
        for c in cheat["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") != "squares_invalid_input"
    ]
    cheated, _ = grade(problem1, cheat)
    assert cheated.score == honest.score == 0.5


def test_a_warning_printed_by_a_correct_answer_does_not_zero_it(problem1):
    warns = SQUARES.replace(
        "    return [",
        "    import warnings, sys\n"
        "    warnings.warn('deprecated', DeprecationWarning, stacklevel=1)\n"
        "    print('careful', file=sys.stderr)\n    return [",
    )
    report, _ = grade(
        problem1, submit(problem1, {"squares": warns, "sum_of_squares": SUM_OF_SQUARES})
    )
    assert report.score == 3.0


def test_an_answer_that_kills_the_kernel_fails_every_later_test(problem1):
    dies = SQUARES + "\nimport os\nos._exit(1)"
    report, _ = grade(
        problem1, submit(problem1, {"squares": dies, "sum_of_squares": SUM_OF_SQUARES})
    )
    assert report.score == 0.0
    assert any("stopped the notebook's kernel" in note for note in report.notes)


def test_an_answer_cell_that_never_ends_ends_the_run_with_a_note(problem1):
    loops = SQUARES + "\nwhile True:\n    pass"
    report, _ = grade(
        problem1,
        submit(problem1, {"squares": loops, "sum_of_squares": SUM_OF_SQUARES}),
        cell_timeout_s=5.0,  # ample for the notebook's other cells; this one never ends
    )
    assert report.score == 0.0
    assert any("did not finish within 5 s" in note for note in report.notes)
    assert {t.message for t in report.tests if t.status == "failed"} >= {
        "Not graded: the notebook stopped before this test"
    }


def test_learner_messages_never_show_hidden_test_code(problem1):
    # given an answer right on the visible tests only (n <= 2), wrong on the hidden ones
    only_visible = SQUARES.replace("range(1, n + 1)", "range(1, min(n, 2) + 1)")
    report, _ = grade(
        problem1, submit(problem1, {"squares": only_visible, "sum_of_squares": SUM_OF_SQUARES})
    )
    learner_view = json.dumps(report.as_dict())
    assert "squares(10)" not in learner_view and "385" not in learner_view
    assert "A hidden test failed" in learner_view
    assert "squares(10)" in json.dumps(report.as_dict(instructor=True))


def test_an_otter_notebook_is_graded_by_its_tests_and_points():
    exercise = parse_exercise(data=(NOTEBOOKS / "otter_demo.ipynb").read_bytes())
    solution = json.loads((NOTEBOOKS / "otter_demo.ipynb").read_text())
    report, points = grade(exercise, solution)
    assert (report.score, report.max_score, report.pending_points) == (5.0, 7.0, 2.0)
    wrong = submit(
        exercise,
        {
            "q1-answer-1": "x = 4\ndef square(y):\n    return abs(y) * y",
            "q2-answer-1": "arr = np.arange(5)",
        },
    )
    report, points = grade(exercise, wrong)
    assert points == {"q1 - 1": 1.0, "q1 - 2": 0.0, "q2 - 1": 1.0, "q2 - 2": 0.0, "q3": 0.0}


def test_an_exercise_can_be_graded_with_a_kernel_factory_and_no_limits(problem1):
    report = grade_notebook(
        source=problem1,
        submission=nbformat.from_dict(
            submit(problem1, {"squares": SQUARES, "sum_of_squares": SUM_OF_SQUARES})
        ),
        kernel_factory=InsecureLocalKernel,
    )
    assert report.score == 3.0


def with_added(notebook: dict, after_grade_id: str | None, *sources: str) -> dict:
    """The learner's notebook with code cells added after a cell (None: at the end)."""
    cells = notebook["cells"]
    at = (
        len(cells)
        if after_grade_id is None
        else 1
        + next(
            i
            for i, c in enumerate(cells)
            if c["metadata"].get("nbgrader", {}).get("grade_id") == after_grade_id
        )
    )
    cells[at:at] = [nbformat.v4.new_code_cell(s) for s in sources]
    return notebook


def test_a_helper_defined_in_an_added_cell_is_there_at_grading(problem1):
    uses_helper = "def squares(n):\n    return square_list(n)"
    helper = SQUARES.replace("def squares(n):", "def square_list(n):")
    learner = submit(problem1, {"squares": uses_helper, "sum_of_squares": SUM_OF_SQUARES})
    report, _ = grade(problem1, with_added(learner, "squares", "import math", helper))
    assert report.score == 3.0


def test_added_cells_that_cheat_earn_only_what_the_answer_earns(problem1):
    wrong = "def squares(n):\n    return list(range(n))"
    honest, _ = grade(
        problem1, submit(problem1, {"squares": wrong, "sum_of_squares": SUM_OF_SQUARES})
    )
    # given added cells that patch modules and builtins, print what a passing test would,
    # claim to be a test, and rebind the answer after every test
    cheat = submit(problem1, {"squares": wrong, "sum_of_squares": SUM_OF_SQUARES})
    patches = (
        "import builtins, numpy.testing, unittest\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n"
        "unittest.TestCase.assertEqual = lambda *a, **k: None\n"
        "builtins.AssertionError = type('Nope', (Exception,), {})\n"
        "print('Passed')"
    )
    with_added(cheat, "squares", patches)
    fake = nbformat.v4.new_code_cell("print('All tests passed')")
    fake["metadata"]["nbgrader"] = {"grade": True, "grade_id": "fake", "points": 50}
    cells = []
    for cell in cheat["cells"]:
        cells.append(cell)
        if cell["metadata"].get("nbgrader", {}).get("grade"):
            cells += [nbformat.v4.new_code_cell("squares = lambda n: [1, 4, 9][:n]"), fake]
    cheat["cells"] = cells
    cheated, _ = grade(problem1, cheat)
    # then nothing is gained over the same answer without them
    assert (cheated.score, cheated.max_score) == (honest.score, honest.max_score)


def test_a_forged_notebook_moving_deleting_and_impersonating_instructor_cells_gains_nothing(
    problem1,
):
    # given the same answers, honestly and in a notebook that moves a test above the
    # answers and empties it, deletes another, edits a locked cell, and adds cells that
    # claim test and locked metadata (a new grade id worth 99 points, a known one)
    wrong = "def squares(n):\n    return list(range(n))"
    answers = {"squares": wrong, "sum_of_squares": SUM_OF_SQUARES}
    honest, honest_points = grade(problem1, submit(problem1, answers))
    forged = submit(problem1, answers)
    cells = forged["cells"]
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in cells}
    cells.remove(by_id["correct_sum_of_squares"])
    cells.insert(0, by_id["correct_sum_of_squares"])
    by_id["correct_sum_of_squares"]["source"] = "pass"
    cells.remove(by_id["squares_invalid_input"])
    by_id["squares_prompt"]["source"] = "squares = lambda n: [i * i for i in range(1, n + 1)]"
    fake = nbformat.v4.new_code_cell("print('Passed')")
    fake["metadata"]["nbgrader"] = {"grade": True, "locked": True, "grade_id": "x", "points": 99}
    locked = nbformat.v4.new_code_cell("squares = lambda n: [i * i for i in range(1, n + 1)]")
    locked["metadata"]["nbgrader"] = {"locked": True, "grade_id": "squares_prompt"}
    cells += [fake, locked]
    # when it is stored as a submission is, then graded
    stored = stored_notebook(
        learner_cells(exercise=problem1, submission=forged),
        missing_tests(exercise=problem1, submission=forged),
    )
    cheated, cheated_points = grade(problem1, stored)
    # then it earns what the answers earn, test by test (the deleted test earns 0, as the
    # wrong answer does honestly: a deleted test is never run, as under nbgrader)
    assert cheated_points == honest_points
    assert (cheated.score, cheated.max_score) == (honest.score, honest.max_score)
    deleted = next(t for t in cheated.tests if t.grade_id == "squares_invalid_input")
    assert deleted.message_key == "test_missing"


def test_a_test_cell_missing_from_the_upload_is_not_run_and_scores_0_as_under_nbgrader():
    # given right answers in a notebook whose second test cell lost its metadata (Colab)
    two_parts = parse_exercise(data=two_parts_exercise())
    right = submit(two_parts, {"double": "def double(x):\n    return x + x", "halve": HALVE})
    upload = metadata_lost(right, "test_halve")
    # when it is stored as a submission is, then graded
    stored = stored_notebook(
        learner_cells(exercise=two_parts, submission=upload),
        missing_tests(exercise=two_parts, submission=upload),
    )
    report, points = grade(two_parts, stored)
    # then that test scores 0 with a reason the learner can act on; the rest as always
    assert points == {"test_double": 2.0, "test_halve": 0.0}
    assert report.max_score == 5.0
    missing = next(t for t in report.tests if t.grade_id == "test_halve")
    assert missing.message_key == "test_missing" and "test_halve" in missing.message
    # and the same answers with every test cell present earn every point
    _, points = grade(two_parts, right)
    assert points == {"test_double": 2.0, "test_halve": 3.0}


def test_an_answer_whose_cell_lost_its_metadata_earns_what_it_earns():
    # given a learner's notebook whose second answer cell lost its nbgrader metadata
    two_parts = parse_exercise(data=two_parts_exercise())
    learner = metadata_lost(
        submit(two_parts, {"double": "def double(x):\n    return x + x", "halve": HALVE}), "halve"
    )
    # then it is graded as nbgrader grades it: the cell runs where it is, after the stub
    _, points = grade(two_parts, learner)
    assert points == {"test_double": 2.0, "test_halve": 3.0}
    # and a wrong one standing there earns nothing
    _, points = grade(two_parts, metadata_lost(submit(two_parts, {"halve": WRONG_HALF}), "halve"))
    assert points["test_halve"] == 0.0


def test_a_course_can_tell_it_is_being_graded_as_under_nbgrader():
    # given an exercise whose instructor cell skips a prompt when nbgrader grades it, and
    # whose test checks for the variable nbgrader sets
    notebook = nbformat.from_dict(two_parts_exercise())
    notebook.cells.insert(
        0,
        nbformat.v4.new_code_cell(
            "import os\nif os.getenv('NBGRADER_EXECUTION') != 'autograde':\n"
            "    raise RuntimeError('press a key to go on')\nSTEPS = 3"
        ),
    )
    notebook.cells[3].source = "assert double(4) == 8 and STEPS == 3"
    notebook.cells[-1].source = "assert os.environ['NBGRADER_EXECUTION'] == 'autograde'"
    two_parts = parse_exercise(data=dict(notebook))
    answers = {"double": "def double(x):\n    return 2 * x", "halve": HALVE}
    # then both pass, as under nbgrader's autograde
    _, points = grade(two_parts, submit(two_parts, answers))
    assert points == {"test_double": 2.0, "test_halve": 3.0}


def test_a_grading_zygotes_kernel_needs_no_request_to_grade_as_under_nbgrader():
    # given the same exercise, graded in a sandboxed kernel of the zygote of grading kernels
    notebook = nbformat.from_dict(two_parts_exercise())
    notebook.cells[-1].source = "assert os.environ['NBGRADER_EXECUTION'] == 'autograde'"
    notebook.cells.insert(
        0,
        nbformat.v4.new_code_cell(
            "import os\nassert os.environ['NBGRADER_EXECUTION'] == 'autograde'"
        ),
    )
    two_parts = parse_exercise(data=dict(notebook))
    sent: list[str] = []

    class Counted:
        def __init__(self) -> None:
            self.kernel = launch.start_kernel(limits=SandboxLimits(), mode="zygote", grading=True)

        def __getattr__(self, name: str):
            return getattr(self.kernel, name)

        def execute(self, code: str, **options):
            sent.append(code)
            return self.kernel.execute(code, **options)

    answers = {"double": "def double(x):\n    return 2 * x", "halve": HALVE}
    report = grade_notebook(
        source=two_parts, submission=submit(two_parts, answers), kernel_factory=Counted
    )
    # then it passes, and the kernel was never told it is being graded: it started so
    assert {t.grade_id: t.points for t in report.tests} == {"test_double": 2.0, "test_halve": 3.0}
    assert sent and NBGRADER_EXECUTION not in sent


def test_a_library_function_a_hidden_test_deletes_is_gone_for_the_learner_as_under_nbgrader():
    # given tests that forbid math.sqrt (deleted by the first test, whose patch holds for
    # the second, which runs after the next answer cell)
    notebook = nbformat.from_dict(two_parts_exercise())
    notebook.cells[2].source = 'import math\ndelattr(math, "sqrt")\nassert double(4) == 8'
    two_parts = parse_exercise(data=dict(notebook))
    uses_sqrt = {
        "double": "import math\ndef double(x):\n    return math.sqrt(4 * x * x)",
        "halve": "import math\ndef halve(x):\n    return math.sqrt(x * x / 4)",
    }
    # then a learner who calls it earns nothing, one who does not earns every point
    _, points = grade(two_parts, submit(two_parts, uses_sqrt))
    assert points == {"test_double": 0.0, "test_halve": 0.0}
    _, points = grade(
        two_parts, submit(two_parts, {"double": "def double(x):\n    return 2 * x", "halve": HALVE})
    )
    assert points == {"test_double": 2.0, "test_halve": 3.0}
