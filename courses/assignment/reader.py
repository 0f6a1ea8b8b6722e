"""Reading an instructor's notebook into an ``Exercise``, reporting every problem at once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import nbgrader, otter, otter_output
from .model import (
    ANSWER_ROLES,
    Exercise,
    ExerciseCell,
    ExerciseInvalid,
    Problem,
    gettext_noop,
    problem,
)

CELL_TYPES = ("code", "markdown", "raw")


def parse_exercise(*, data: bytes | str | Mapping[str, Any]) -> Exercise:
    """The exercise in ``data`` (nbgrader, otter assign v1, or a notebook Otter Assign
    wrote, its tests in its metadata).

    Raises ``ExerciseInvalid`` listing every problem found, each with its cell; nothing
    is half-imported.
    """
    problems: list[Problem] = []
    notebook = _load(data, problems)
    if notebook is None:
        raise ExerciseInvalid(problems)
    cells = _cells(notebook, problems)
    if otter.is_otter(cells):
        exercise_format, parsed = "otter", otter.parse_cells(cells, problems)
    elif otter_output.is_otter_output(notebook, cells):
        exercise_format = "otter"
        parsed = otter_output.parse_cells(notebook, cells, problems)
        problems += otter_output.unknown_checks(notebook, cells)
    else:
        exercise_format = "nbgrader"
        parsed = [nbgrader.parse_cell(i, c, problems) for i, (c, _) in enumerate(cells)]
    _check_grade_ids(notebook, exercise_format, parsed, problems)
    if not any(c.role in ANSWER_ROLES for c in parsed):
        problems.append(
            problem("no_answer_cells", gettext_noop("the notebook has no answer (solution) cells"))
        )
    if problems:
        raise ExerciseInvalid(problems)
    metadata = {
        k: notebook["metadata"][k]
        for k in ("kernelspec", "language_info")
        if isinstance(notebook.get("metadata"), dict) and k in notebook["metadata"]
    }
    prelude = otter.cell_prelude(cells) if exercise_format == "otter" else ""
    return Exercise(
        format=exercise_format, cells=tuple(parsed), metadata=metadata, cell_prelude=prelude
    )


def _load(data: bytes | str | Mapping[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    if isinstance(data, bytes | str):
        try:
            loaded = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            problems.append(
                problem(
                    "invalid_json", gettext_noop("the file is not valid JSON: %(error)s"), error=exc
                )
            )
            return None
    else:
        loaded = data
    if not isinstance(loaded, Mapping):
        problems.append(
            problem("invalid_json", gettext_noop("the file is not a notebook (a JSON object)"))
        )
        return None
    version = loaded.get("nbformat")
    if type(version) is not int or version < 4:
        problems.append(
            problem(
                "nbformat_too_old",
                gettext_noop(
                    "notebook format %(version)s is not supported: open and save it with "
                    "Jupyter (nbformat 4)"
                ),
                version=repr(version),
            )
        )
        return None
    if not isinstance(loaded.get("cells"), list):
        problems.append(problem("invalid_json", gettext_noop("the notebook has no list of cells")))
        return None
    return dict(loaded)


def _cells(notebook: dict[str, Any], problems: list[Problem]) -> list[tuple[dict[str, Any], str]]:
    cells: list[tuple[dict[str, Any], str]] = []
    for index, cell in enumerate(notebook["cells"]):
        source = cell.get("source", "") if isinstance(cell, dict) else None
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if (
            not isinstance(cell, dict)
            or cell.get("cell_type") not in CELL_TYPES
            or not isinstance(source, str)
            or not isinstance(cell.get("metadata", {}), dict)
        ):
            problems.append(
                problem("invalid_cell", gettext_noop("not a valid notebook cell"), index)
            )
            cells.append(({"cell_type": "raw", "metadata": {}}, ""))
            continue
        cells.append((cell, source))
    return cells


def _check_grade_ids(
    notebook: dict[str, Any],
    exercise_format: str,
    parsed: list[ExerciseCell],
    problems: list[Problem],
) -> None:
    seen: dict[str, int] = {}
    for cell in parsed:
        if cell.grade_id is None or cell.role.value == "plain":
            continue
        if cell.grade_id in seen:
            problems.append(
                problem(
                    "duplicate_grade_id",
                    gettext_noop("duplicate grade id %(grade_id)s (also cell %(other)s)"),
                    cell.index,
                    grade_id=repr(cell.grade_id),
                    other=seen[cell.grade_id] + 1,
                )
            )
        else:
            seen[cell.grade_id] = cell.index
