"""Exercises for tests: small nbgrader notebooks built in code, and real nbgrader and otter
notebooks on disk (NOTEBOOKS: nbgrader's documented example, otter's demo)."""

from pathlib import Path
from typing import Any

import nbformat

NOTEBOOKS = Path(__file__).parent / "notebooks"


def _meta(
    grade_id: str,
    *,
    solution: bool = False,
    grade: bool = False,
    points: float = 0,
    locked: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "grade_id": grade_id,
        "solution": solution,
        "grade": grade,
        "locked": locked,
        "task": False,
        "schema_version": 3,
    }
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


ADD_SOLUTION = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"


def add_exercise() -> dict[str, Any]:
    """`add(a, b)`: a visible test (2 points) and a hidden one (1 point)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Write `add(a, b)`.", metadata=_meta("prompt", locked=True)),
        nbformat.v4.new_code_cell(ADD_SOLUTION, metadata=_meta("add", solution=True)),
        nbformat.v4.new_code_cell(
            "assert add(1, 2) == 3", metadata=_meta("test_add", grade=True, points=2, locked=True)
        ),
        nbformat.v4.new_code_cell(
            "### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0\n### END HIDDEN TESTS",
            metadata=_meta("test_add_hidden", grade=True, points=1, locked=True),
        ),
    ]
    return dict(nb)


def two_parts_exercise() -> dict[str, Any]:
    """`double(x)` (a test worth 2 points), then `halve(x)` (a test worth 3)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "Write `double(x)`.", metadata=_meta("ask_double", locked=True)
        ),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n",
            metadata=_meta("double", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert double(4) == 8",
            metadata=_meta("test_double", grade=True, points=2, locked=True),
        ),
        nbformat.v4.new_markdown_cell(
            "Write `halve(x)`.", metadata=_meta("ask_halve", locked=True)
        ),
        nbformat.v4.new_code_cell(
            "def halve(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION\n",
            metadata=_meta("halve", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert halve(9) == 4.5",
            metadata=_meta("test_halve", grade=True, points=3, locked=True),
        ),
    ]
    return dict(nb)


def metadata_lost(notebook: dict[str, Any], grade_id: str) -> dict[str, Any]:
    """`notebook` with the cell `grade_id` stripped of its metadata, as Colab or copying the
    cell into a new one leaves it: the cell stays where it was, as a plain cell."""
    nb = nbformat.from_dict(notebook)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.metadata = nbformat.NotebookNode()
    return dict(nb)


def answered(exercise: dict[str, Any], **answers: str) -> dict[str, Any]:
    """A learner's copy of `exercise` with the given answer sources, by grade id."""
    nb = nbformat.from_dict(exercise)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return dict(nbformat.from_dict(nb))


def as_json(nb: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(nbformat.writes(nbformat.from_dict(nb)))
