"""otter-grader notebooks in Otter Assign's v1 format (raw YAML boundary cells)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from . import markers
from .model import Check, ExerciseCell, Problem, Role, gettext_noop, problem

_BOUNDARY = re.compile(
    r"#\s*(ASSIGNMENT CONFIG|BEGIN QUESTION|END QUESTION|BEGIN SOLUTION|END SOLUTION|"
    r"BEGIN TESTS|END TESTS|BEGIN PROMPT|END PROMPT)(\s+NO PROMPT)?\s*"
)
_TEST_CONFIG = re.compile(
    r"^\s*(\"\"\"|''')\s*#\s*BEGIN TEST CONFIG\s*\n(?P<yaml>.*?)\n\s*(\"\"\"|''')\s*#\s*"
    r"END TEST CONFIG\s*(\n|$)",
    re.DOTALL,
)


def boundary(cell: dict[str, Any], source: str) -> str | None:
    """The boundary keyword of a raw delimiter cell (``BEGIN QUESTION``...), if it is one."""
    if cell.get("cell_type") != "raw" or not source.strip():
        return None
    match = _BOUNDARY.fullmatch(source.strip().splitlines()[0].strip())
    return match[1] if match else None


def is_otter(cells: list[tuple[dict[str, Any], str]]) -> bool:
    return any(boundary(c, s) in ("BEGIN QUESTION", "ASSIGNMENT CONFIG") for c, s in cells)


@dataclass
class _Question:
    name: str
    index: int
    points: Any
    manual: bool
    tests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@dataclass
class _State:
    problems: list[Problem]
    question: _Question | None = None
    block: str | None = None  # "solution" | "tests" | "prompt"
    names: set[str] = field(default_factory=set)
    cells: list[ExerciseCell] = field(default_factory=list)
    questions: list[_Question] = field(default_factory=list)


def parse_cells(
    cells: list[tuple[dict[str, Any], str]], problems: list[Problem]
) -> list[ExerciseCell]:
    state = _State(problems)
    for index, (cell, source) in enumerate(cells):
        keyword = boundary(cell, source)
        if keyword is not None:
            _on_boundary(state, index, keyword, source)
        else:
            _on_cell(state, index, cell, source)
    if state.question is not None:
        problems.append(
            problem(
                "otter_unclosed",
                gettext_noop("question %(name)s has no # END QUESTION"),
                state.question.index,
                name=repr(state.question.name),
            )
        )
    points = _resolve_points(state)
    return [_with_points(c, points) for c in state.cells]


def _on_boundary(state: _State, index: int, keyword: str, source: str) -> None:
    problems = state.problems
    if keyword == "BEGIN QUESTION":
        if state.question is not None:
            problems.append(
                problem("otter_nested", gettext_noop("question begins inside another"), index)
            )
        state.question = _question(state, index, source)
    elif keyword == "END QUESTION":
        if state.question is None:
            problems.append(
                problem("otter_unbalanced", gettext_noop("END QUESTION without a BEGIN"), index)
            )
        elif state.block is not None:
            problems.append(
                problem(
                    "otter_unbalanced",
                    gettext_noop("%(block)s block is not closed"),
                    index,
                    block=state.block,
                )
            )
        if state.question is not None:
            state.questions.append(state.question)
        state.question, state.block = None, None
    elif keyword.startswith("BEGIN "):
        if state.question is None or state.block is not None:
            problems.append(
                problem(
                    "otter_unbalanced",
                    gettext_noop("%(keyword)s outside a question or inside another block"),
                    index,
                    keyword=keyword,
                )
            )
        state.block = keyword.removeprefix("BEGIN ").lower()
    elif keyword.startswith("END "):
        if state.block != keyword.removeprefix("END ").lower():
            problems.append(
                problem(
                    "otter_unbalanced",
                    gettext_noop("%(keyword)s without a matching BEGIN"),
                    index,
                    keyword=keyword,
                )
            )
        state.block = None
    # ASSIGNMENT CONFIG and the delimiters themselves never reach learners.


def _question(state: _State, index: int, source: str) -> _Question:
    config = _yaml(source, index, state.problems)
    name = config.get("name")
    if not isinstance(name, str) or not name.strip():
        state.problems.append(
            problem("otter_name_missing", gettext_noop("question has no name"), index)
        )
        name = f"question-{index}"
    elif name in state.names:
        state.problems.append(
            problem(
                "duplicate_grade_id",
                gettext_noop("duplicate question name %(name)s"),
                index,
                name=repr(name),
            )
        )
    state.names.add(name)
    return _Question(name, index, config.get("points"), config.get("manual") is True)


def _on_cell(state: _State, index: int, cell: dict[str, Any], source: str) -> None:
    cell_type = str(cell.get("cell_type"))
    question, block = state.question, state.block
    if question is not None and block == "solution":
        _answer_cell(state, question, index, cell_type, source)
    elif question is not None and block == "tests" and cell_type == "code":
        _test_cell(state, question, index, cell, source)
    else:
        state.cells.append(
            ExerciseCell(
                index,
                cell_type,
                Role.PLAIN,
                source,
                source,
                question=question.name if question else None,
            )
        )


def _answer_cell(state: _State, q: _Question, index: int, cell_type: str, source: str) -> None:
    for template, args in markers.region_errors(source, markers.OTTER_SOLUTION):
        state.problems.append(problem("unbalanced_marker", template, index, **args))
    code = cell_type == "code"
    student = markers.otter_student_code(source) if code else markers.OTTER_TEXT_STUB
    manual_holder = q.manual and not q.answers
    q.answers.append(index)
    role = Role.MANUAL if manual_holder else Role.ANSWER
    grade_id = q.name if manual_holder else f"{q.name}-answer-{len(q.answers)}"
    state.cells.append(
        ExerciseCell(index, cell_type, role, source, student, grade_id=grade_id, question=q.name)
    )


def _test_cell(state: _State, q: _Question, index: int, cell: dict[str, Any], source: str) -> None:
    config: dict[str, Any] = {}
    match = _TEST_CONFIG.match(source)
    if match:
        config = _yaml(match["yaml"], index, state.problems)
        source = source[match.end() :]
    lines = source.splitlines()
    hidden = config.get("hidden") is True
    if lines and re.fullmatch(r"\s*#\s*HIDDEN\s*", lines[0]):
        hidden, source = True, "\n".join(lines[1:])
    q.tests.append({"index": index, "points": config.get("points")})
    messages = {k: str(config[k]) for k in ("success_message", "failure_message") if config.get(k)}
    state.cells.append(
        ExerciseCell(
            index,
            "code",
            Role.TEST,
            source,
            "" if hidden else source,
            grade_id=f"{q.name} - {len(q.tests)}",
            hidden=hidden,
            check=Check.OUTPUT,
            expected_output=_expected_output(cell),
            question=q.name,
            messages=messages,
        )
    )


def _expected_output(cell: dict[str, Any]) -> str | None:
    for output in cell.get("outputs") or []:
        if isinstance(output, dict) and output.get("output_type") == "execute_result":
            text = (output.get("data") or {}).get("text/plain")
            return "".join(text) if isinstance(text, list) else str(text)
    return None


def _resolve_points(state: _State) -> dict[int, float]:
    """Otter's rules for spreading a question's points over its test cases."""
    resolved: dict[int, float] = {}
    for q in state.questions:
        if q.manual:
            resolved.update({t["index"]: 0.0 for t in q.tests})
            if q.answers:
                resolved[q.answers[0]] = _number(q.points, q.index, state.problems, default=1.0)
            continue
        _spread(q, resolved, state.problems)
    return resolved


def _spread(q: _Question, resolved: dict[int, float], problems: list[Problem]) -> None:
    tests = q.tests
    if isinstance(q.points, list):
        if len(q.points) != len(tests):
            problems.append(
                problem(
                    "points_invalid",
                    gettext_noop("question %(name)s lists %(given)s point values for %(n)s tests"),
                    q.index,
                    name=repr(q.name),
                    given=len(q.points),
                    n=len(tests),
                )
            )
            return
        for t, p in zip(tests, q.points, strict=True):
            resolved[t["index"]] = _number(p, q.index, problems, default=0.0)
        return
    given = {
        t["index"]: _number(t["points"], q.index, problems, default=0.0)
        for t in tests
        if t["points"] is not None
    }
    rest = [t["index"] for t in tests if t["points"] is None]
    if q.points is None:
        rest_total = 0.0 if given else 1.0
    else:
        total = _number(q.points, q.index, problems, default=0.0)
        rest_total = max(total - sum(given.values()), 0.0)
    resolved.update(given)
    resolved.update({i: rest_total / len(rest) for i in rest} if rest else {})


def _with_points(cell: ExerciseCell, points: dict[int, float]) -> ExerciseCell:
    if cell.role in (Role.TEST, Role.MANUAL) and cell.index in points:
        return replace(cell, points=points[cell.index])
    return cell


def _number(value: Any, index: int, problems: list[Problem], *, default: float) -> float:
    if value is None:
        return default
    if type(value) in (int, float) and value >= 0:
        return float(value)
    problems.append(
        problem(
            "points_invalid",
            gettext_noop("points %(points)s is not a number"),
            index,
            points=repr(value),
        )
    )
    return default


def _yaml(text: str, index: int, problems: list[Problem]) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(
            problem("invalid_yaml", gettext_noop("invalid YAML: %(error)s"), index, error=exc)
        )
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(
            problem("invalid_yaml", gettext_noop("the configuration is not a mapping"), index)
        )
        return {}
    return data
