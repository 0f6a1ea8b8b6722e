"""otter-grader notebooks in Otter Assign's v1 format (raw YAML boundary cells)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace
from typing import Any

from . import markers, otter_tests
from .model import Check, ExerciseCell, Problem, Role, gettext_noop, problem

_BOUNDARY = re.compile(
    r"#\s*(ASSIGNMENT CONFIG|BEGIN QUESTION|END QUESTION|BEGIN SOLUTION|END SOLUTION|"
    r"BEGIN TESTS|END TESTS|BEGIN PROMPT|END PROMPT)(\s+NO PROMPT)?\s*",
    re.IGNORECASE,
)
_IGNORED_CELL = re.compile(r"(##\s*ignore\s*##\s*|#\s*ignore\s*)", re.IGNORECASE)
_OTTER_INCLUDE = "otter_include"
# Methods of otter.Notebook that only report to the learner or package a submission.
_GRADER_METHODS = frozenset(
    {"check", "check_all", "export", "run_plugin", "to_pdf", "add_plugin_files"}
)


def boundary(cell: dict[str, Any], source: str) -> str | None:
    """The boundary keyword of a raw delimiter cell (``BEGIN QUESTION``...), if it is one."""
    if cell.get("cell_type") != "raw" or not source.strip():
        return None
    match = _BOUNDARY.fullmatch(source.strip().splitlines()[0].strip())
    return match[1].upper() if match else None


def unfenced(cells: list[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str]]:
    """Markdown cells holding only an ```otter block are raw cells (otter's alternative
    for editors without raw cells)."""
    out = []
    for cell, source in cells:
        lines = source.strip().splitlines()
        if (
            cell.get("cell_type") == "markdown"
            and len(lines) >= 2
            and lines[0].strip() == "```otter"
            and lines[-1].strip() == "```"
            and all(line.strip() != "```" for line in lines[1:-1])
        ):
            out.append(({**cell, "cell_type": "raw"}, "\n".join(lines[1:-1])))
        else:
            out.append((cell, source))
    return out


def is_otter(cells: list[tuple[dict[str, Any], str]]) -> bool:
    return any(
        boundary(c, s) in ("BEGIN QUESTION", "ASSIGNMENT CONFIG") for c, s in unfenced(cells)
    )


def cell_prelude(cells: list[tuple[dict[str, Any], str]]) -> str:
    """Otter's intercell seeding, as its autograder does it: the seed variable set, or
    numpy's and random's generators seeded, at the top of every cell."""
    for cell, source in unfenced(cells):
        if boundary(cell, source) != "ASSIGNMENT CONFIG":
            continue
        config = otter_tests.yaml_mapping(source, 0, [])
        seed, generate = config.get("seed"), config.get("generate")
        if isinstance(seed, dict) and type(seed.get("autograder_value")) is int:
            variable = seed.get("variable")
            if isinstance(variable, str) and variable.isidentifier():
                return f"{variable} = {seed['autograder_value']}"
        if isinstance(generate, dict) and type(generate.get("seed")) is int:
            value = generate["seed"]
            return f'__import__("numpy").random.seed({value}); __import__("random").seed({value})'
    return ""


def is_ignored(source: str) -> bool:
    """Otter leaves a cell whose first line is ``# IGNORE`` out of every notebook."""
    lines = source.splitlines()
    return bool(lines) and _IGNORED_CELL.match(lines[0]) is not None


def runs_otter_only(source: str) -> bool:
    """A cell that only sets up or calls otter's own grader (``import otter``,
    ``grader = otter.Notebook()``, ``grader.check("q1")``): grading here replaces it."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # not otter's: a learner's notebook may hold anything
    return bool(body) and all(_otter_statement(node) for node in body)


def _otter_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[0] == "otter" for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "otter"
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        func = node.value.func
        return (isinstance(func, ast.Attribute) and func.attr == "Notebook") or (
            isinstance(func, ast.Name) and func.id == "Notebook"
        )
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return isinstance(func, ast.Attribute) and func.attr in _GRADER_METHODS
    return False


@dataclass
class _Question:
    name: str
    index: int
    points: Any
    manual: bool
    all_or_nothing: bool
    tests: list[Any] = field(default_factory=list)  # each test's own points (or None)
    test_cells: list[int] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    prompt: bool = False  # the learner answers in the prompt's cells
    text_answer: bool = False  # a Markdown answer cell is already there


@dataclass
class _State:
    problems: list[Problem]
    question: _Question | None = None
    block: str | None = None  # "solution" | "tests" | "prompt"
    names: set[str] = field(default_factory=set)
    cells: list[ExerciseCell] = field(default_factory=list)
    questions: list[_Question] = field(default_factory=list)
    # tests: doctests of the cell's output, exception-based, or None: not said (per cell)
    ok_format: bool | None = None


def parse_cells(
    cells: list[tuple[dict[str, Any], str]], problems: list[Problem]
) -> list[ExerciseCell]:
    state = _State(problems)
    for index, (cell, source) in enumerate(unfenced(cells)):
        if is_ignored(source):
            continue
        keyword = boundary(cell, source)
        if keyword is not None:
            _on_boundary(state, index, keyword, source)
        else:
            _on_cell(state, index, cell, markers.otter_without_ignored(source))
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
    if keyword == "ASSIGNMENT CONFIG":
        tests = otter_tests.yaml_mapping(source, index, problems).get("tests")
        if isinstance(tests, dict) and type(tests.get("ok_format")) is bool:
            state.ok_format = tests["ok_format"]
    elif keyword == "BEGIN QUESTION":
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
    else:
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
    # The delimiters themselves never reach learners.


def _question(state: _State, index: int, source: str) -> _Question:
    config = otter_tests.yaml_mapping(source, index, state.problems)
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
    return _Question(
        name,
        index,
        config.get("points"),
        config.get("manual") is True,
        config.get("all_or_nothing") is True,
    )


def _on_cell(state: _State, index: int, cell: dict[str, Any], source: str) -> None:
    cell_type = str(cell.get("cell_type"))
    question, block = state.question, state.block
    if question is not None and block == "solution":
        _solution_cell(state, question, index, cell, source)
    elif question is not None and block == "prompt" and cell_type in ("code", "markdown"):
        question.prompt = True
        _answer(state, question, index, cell_type, source, source)
    elif question is not None and block == "tests" and cell_type == "code":
        _test_cell(state, question, index, cell, source)
    elif block is None and cell_type == "code" and runs_otter_only(source):
        return  # otter's own set-up and check cells: this platform grades instead
    else:
        state.cells.append(_plain(index, cell_type, source, question))


def _plain(index: int, cell_type: str, source: str, question: _Question | None) -> ExerciseCell:
    name = question.name if question else None
    return ExerciseCell(index, cell_type, Role.PLAIN, source, source, question=name)


def _solution_cell(
    state: _State, q: _Question, index: int, cell: dict[str, Any], source: str
) -> None:
    """Otter's student version of a solution cell: code is stubbed; Markdown is left out
    (unless tagged ``otter_include``), and a manually graded question without a prompt
    gets one Markdown answer cell in its place."""
    cell_type = str(cell.get("cell_type"))
    for template, args in markers.region_errors(source, markers.OTTER_SOLUTION):
        state.problems.append(problem("unbalanced_marker", template, index, **args))
    if cell_type == "code":
        _answer(state, q, index, cell_type, source, markers.otter_student_code(source))
        return
    tags = (cell.get("metadata") or {}).get("tags")
    if isinstance(tags, list) and _OTTER_INCLUDE in tags:
        state.cells.append(_plain(index, cell_type, source, q))
    elif cell_type == "markdown" and q.manual and not q.prompt and not q.text_answer:
        q.text_answer = True
        _answer(state, q, index, cell_type, source, markers.OTTER_TEXT_STUB)


def _answer(
    state: _State, q: _Question, index: int, cell_type: str, source: str, student: str
) -> None:
    manual_holder = q.manual and not q.answers
    q.answers.append(index)
    role = Role.MANUAL if manual_holder else Role.ANSWER
    grade_id = q.name if manual_holder else f"{q.name}-answer-{len(q.answers)}"
    state.cells.append(
        ExerciseCell(index, cell_type, role, source, student, grade_id=grade_id, question=q.name)
    )


def _test_cell(state: _State, q: _Question, index: int, cell: dict[str, Any], source: str) -> None:
    outputs = cell.get("outputs")
    case = otter_tests.read_test(
        source,
        outputs if isinstance(outputs, list) else [],
        index,
        state.problems,
        ok_format=state.ok_format,
    )
    q.tests.append(case.points)
    q.test_cells.append(index)
    state.cells.append(
        ExerciseCell(
            index,
            "code",
            Role.TEST,
            case.code,
            "" if case.hidden else case.shown,
            grade_id=f"{q.name} - {len(q.tests)}",
            hidden=case.hidden,
            check=Check.OUTPUT if case.ok_format else Check.NBGRADER,
            expected_output=case.expected_output,
            question=q.name,
            messages=case.messages,
            all_or_nothing=q.all_or_nothing,
        )
    )


def _resolve_points(state: _State) -> dict[int, float]:
    """Otter's rules for spreading a question's points over its test cases."""
    resolved: dict[int, float] = {}
    for q in state.questions:
        if q.manual:
            resolved.update(dict.fromkeys(q.test_cells, 0.0))
            if q.answers:
                resolved[q.answers[0]] = otter_tests.number(
                    q.points, q.index, state.problems, default=1.0
                )
            continue
        points = otter_tests.resolve_points(q.points, q.tests, q.name, q.index, state.problems)
        if points is not None:
            resolved.update(zip(q.test_cells, points, strict=True))
    return resolved


def _with_points(cell: ExerciseCell, points: dict[int, float]) -> ExerciseCell:
    if cell.role in (Role.TEST, Role.MANUAL) and cell.index in points:
        return replace(cell, points=points[cell.index])
    return cell
