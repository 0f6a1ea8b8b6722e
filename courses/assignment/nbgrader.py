"""nbgrader notebooks: cell metadata schema v3 (older schemas upgraded as nbgrader does)."""

from __future__ import annotations

import re
from typing import Any

from . import markers
from .model import ExerciseCell, Problem, Role, gettext_noop, problem

FLAGS = ("grade", "solution", "locked", "task")
LATEST_SCHEMA = 3
# nbgrader's autotest directives: "### AUTOTEST expr" and "### HASHED AUTOTEST expr".
AUTOTEST = re.compile(r"^[ \t]*#+[ \t]*(HASHED[ \t]+)?AUTOTEST\b", re.MULTILINE)


def upgrade_metadata(meta: dict[str, Any]) -> dict[str, Any] | None:
    """nbgrader's own upgrade from schema 0, 1 and 2; ``None`` when the cell is not nbgrader's."""
    meta = dict(meta)
    version = meta.get("schema_version", 0)
    if version == 0:
        for flag in ("grade", "solution", "locked"):
            meta.setdefault(flag, False)
        if not (meta["grade"] or meta["solution"] or meta["locked"] or meta.get("task")):
            return None
        if not meta["grade"]:
            meta.pop("points", None)
        elif meta.get("points") in ("", None):
            meta["points"] = 0.0
        version = 1
    if version == 1:
        if "cell_type" in meta and not meta["cell_type"]:
            del meta["cell_type"]
        version = 2
    if version == 2:
        version = 3
    meta["schema_version"] = version
    meta.setdefault("task", False)
    return meta


def parse_cell(index: int, cell: dict[str, Any], problems: list[Problem]) -> ExerciseCell:
    source = _source(cell)
    cell_type = str(cell.get("cell_type"))
    raw_meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(raw_meta, dict):
        return ExerciseCell(index, cell_type, Role.PLAIN, source, source)
    meta = _checked_metadata(index, raw_meta, cell_type, problems)
    if meta is None:
        return ExerciseCell(index, cell_type, Role.PLAIN, source, source)
    role = _role(meta, cell_type)
    points = _points(index, meta, role, problems)
    grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
    _check_markers(index, source, role, cell_type, problems)
    hidden = role is Role.TEST and markers.has_region(source, markers.HIDDEN_TESTS)
    return ExerciseCell(
        index=index,
        cell_type=cell_type,
        role=role,
        source=_runnable(source, role, cell_type),
        student_source=student_source(source, role, cell_type),
        grade_id=grade_id,
        points=points,
        hidden=hidden,
        hidden_lines=markers.hidden_lines(source) if hidden else frozenset(),
        metadata={"nbgrader": meta},
    )


def _checked_metadata(
    index: int, raw: dict[str, Any], cell_type: str, problems: list[Problem]
) -> dict[str, Any] | None:
    version = raw.get("schema_version", 0)
    if type(version) is not int or not 0 <= version <= LATEST_SCHEMA + 1:
        problems.append(
            problem(
                "unknown_schema",
                gettext_noop("unknown nbgrader schema %(version)s"),
                index,
                version=repr(version),
            )
        )
        return None
    bad = [f for f in FLAGS if f in raw and type(raw[f]) is not bool]
    if bad:
        problems.append(
            problem(
                "bad_flag",
                gettext_noop("nbgrader flags must be true or false: %(flags)s"),
                index,
                flags=", ".join(bad),
            )
        )
        return None
    meta = upgrade_metadata(raw)
    if meta is None:
        return None
    grade_id = meta.get("grade_id")
    if not isinstance(grade_id, str) or not grade_id.strip():
        problems.append(
            problem("grade_id_missing", gettext_noop("nbgrader cell has no grade_id"), index)
        )
    if meta["task"] and cell_type != "markdown":
        problems.append(
            problem("task_not_markdown", gettext_noop("task cells must be markdown"), index)
        )
    elif cell_type == "markdown" and not meta["task"] and meta["grade"] != meta["solution"]:
        problems.append(
            problem(
                "markdown_grade_solution",
                gettext_noop("a graded markdown cell must be both a solution and a grade cell"),
                index,
            )
        )
    return meta


def _role(meta: dict[str, Any], cell_type: str) -> Role:
    if meta["task"]:
        return Role.TASK
    if meta["solution"]:
        return Role.MANUAL if meta["grade"] else Role.ANSWER
    if meta["grade"]:
        return Role.TEST if cell_type == "code" else Role.LOCKED
    return Role.LOCKED


def _points(index: int, meta: dict[str, Any], role: Role, problems: list[Problem]) -> float:
    if role not in (Role.TEST, Role.MANUAL, Role.TASK):
        return 0.0
    if "points" not in meta:
        problems.append(problem("points_missing", gettext_noop("grade cell has no points"), index))
        return 0.0
    try:
        points = float(meta["points"])
    except (TypeError, ValueError):
        problems.append(
            problem(
                "points_invalid",
                gettext_noop("points %(points)s is not a number"),
                index,
                points=repr(meta["points"]),
            )
        )
        return 0.0
    if not points >= 0:
        problems.append(
            problem("points_invalid", gettext_noop("points must be zero or more"), index)
        )
        return 0.0
    return points


def _check_markers(
    index: int, source: str, role: Role, cell_type: str, problems: list[Problem]
) -> None:
    regions = [
        markers.SOLUTION if cell_type == "code" else markers.MARKDOWN_SOLUTION,
        markers.HIDDEN_TESTS,
        markers.MARK_SCHEME,
    ]
    for region in regions:
        for template, args in markers.region_errors(source, region):
            problems.append(problem("unbalanced_marker", template, index, **args))
    if role is Role.TEST and cell_type == "code" and AUTOTEST.search(source):
        # nbgrader writes these into asserts when it generates the assignment; left as they
        # are, they are comments, and the test would pass whatever the answer.
        problems.append(
            problem(
                "autotest",
                gettext_noop(
                    "nbgrader AUTOTEST lines are not supported: write the asserts in the "
                    "test cell (nbgrader generate_assignment writes them into the release)"
                ),
                index,
            )
        )


def _runnable(source: str, role: Role, cell_type: str) -> str:
    if cell_type != "code":
        return source
    return markers.strip_markers(source, markers.SOLUTION, markers.HIDDEN_TESTS)


def student_source(source: str, role: Role, cell_type: str) -> str:
    """nbgrader's release: solutions become stubs, hidden tests and mark schemes vanish."""
    if role in (Role.ANSWER, Role.MANUAL):
        region = markers.SOLUTION if cell_type == "code" else markers.MARKDOWN_SOLUTION
        stub = markers.CODE_STUB if cell_type == "code" else markers.TEXT_STUB
        if markers.has_region(source, region):
            source = markers.replace_regions(source, region, stub)
        else:
            source = stub
    source = markers.replace_regions(source, markers.HIDDEN_TESTS, None)
    return markers.replace_regions(source, markers.MARK_SCHEME, None)


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)
