"""Otter Assign notebooks built in code, one pattern each (written for these tests)."""

from __future__ import annotations

import pprint
from typing import Any

import nbformat


def raw(source: str) -> Any:
    return nbformat.v4.new_raw_cell(source)


def md(source: str, **metadata: Any) -> Any:
    return nbformat.v4.new_markdown_cell(source, metadata=metadata)


def code(source: str, output: str | None = None, printed: str | None = None) -> Any:
    """A code cell with the outputs it had when the instructor ran it."""
    outputs = []
    if printed is not None:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=printed))
    if output is not None:
        outputs.append(
            nbformat.v4.new_output("execute_result", data={"text/plain": output}, execution_count=1)
        )
    return nbformat.v4.new_code_cell(source, outputs=outputs)


def question(config: str, solution: list[Any], tests: list[Any], *, prompt: str = "") -> list[Any]:
    """A question's cells: the config, its text, its solution block and its tests block."""
    cells = [raw(f"# BEGIN QUESTION\n{config}"), md(prompt or "**Question.**")]
    if solution:
        cells += [raw("# BEGIN SOLUTION"), *solution, raw("# END SOLUTION")]
    if tests:
        cells += [raw("# BEGIN TESTS"), *tests, raw("# END TESTS")]
    return [*cells, raw("# END QUESTION")]


def notebook(*cells: Any, config: str = "init_cell: false") -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [raw(f"# ASSIGNMENT CONFIG\n{config}"), *cells]
    return nbformat.from_dict(nb)


def answered(student: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """The student version with ``answers`` (by grade id) typed into its answer cells."""
    for cell in student["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return student


# -------------------------------------------- what Otter Assign writes (student version)

# An exception-based test file, as Otter Assign writes one into the tests folder.
EXCEPTION_FILE = """from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None
all_or_nothing = True

@test_case(points=2, hidden=False,
    success_message="Congrats you passed this test case!",
    failure_message="This is not an int.")
def test_type(x):
    assert isinstance(x, int)
    assert 0 < x < 100

@test_case(points=2, hidden=True)
def test_value(x):
    assert x == 2
"""


def answer(source: str, cell_type: str = "code") -> Any:
    """An answer cell as Otter Assign tags it in the student version."""
    if cell_type == "markdown":
        return md(source, tags=["otter_answer_cell"])
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["otter_answer_cell"]})


def check(name: str) -> Any:
    return nbformat.v4.new_code_cell(
        f'grader.check("{name}")', metadata={"deletable": False, "editable": False}
    )


def ok_test(name: str, cases: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    """An OK-format test as Otter Assign writes it (``cases``: code, hidden, points...)."""
    suite = {"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}
    return {"name": name, "points": None, **settings, "suites": [suite]}


def ok_file(test: dict[str, Any]) -> str:
    """The test as a file of Otter Assign's tests folder (``tests/q1.py``)."""
    return "OK_FORMAT = True\n\ntest = " + pprint.pformat(test, indent=4, width=200) + "\n"


def otter_output(*cells: Any, tests: dict[str, Any] | None = None) -> dict[str, Any]:
    """A notebook as Otter Assign writes it, its tests (if given) in its metadata."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            '# Initialize Otter\nimport otter\ngrader = otter.Notebook("hw.ipynb")',
            metadata={"deletable": False, "editable": False},
        ),
        *cells,
        nbformat.v4.new_code_cell("grader.export(pdf=False)"),
    ]
    if tests is not None:
        ok = all(isinstance(t, dict) for t in tests.values())
        nb.metadata["otter"] = {"OK_FORMAT": ok, "assignment_name": "hw", "tests": tests}
    return nbformat.from_dict(nb)
