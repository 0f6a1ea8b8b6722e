"""otter-grader test cells: their config, hidden flag, expected output, and points.

Otter Assign turns each test cell into one test case: an OK-format doctest whose expected
output is what the cell printed and displayed when the instructor ran it, or, with
``tests: ok_format: false`` in the assignment config, an exception-based test case (a
function that otter calls with the learner's globals named by its parameters).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

import yaml

from .model import Problem, gettext_noop, problem

_CONFIG_BEGIN = re.compile(r"(?:.\s*=\s*)?(\"{1,3}|'{1,3})\s*#\s*BEGIN\s*TEST\s*CONFIG", re.I)
_CONFIG_END = re.compile(r"\s*(\"{1,3}|'{1,3});?\s*#\s*END\s*TEST\s*CONFIG", re.I)
_HIDDEN = re.compile(r"\bhidden\b", re.I)


@dataclass(frozen=True)
class TestCase:
    """One test cell as otter reads it."""

    __test__ = False  # not a pytest class

    code: str  # what the trusted runner executes
    shown: str  # what a learner sees of it when it is public
    hidden: bool
    points: Any
    messages: dict[str, str]
    expected_output: str | None
    ok_format: bool  # a doctest of the output (else exception-based: passes unless it raises)


def read_test(
    source: str, outputs: list[Any], index: int, problems: list[Problem], *, ok_format: bool | None
) -> TestCase:
    """The test case in a test cell (``outputs``: the cell's saved outputs).

    ``ok_format`` is the assignment config's ``tests: ok_format``; None when the notebook
    does not say (it may be in a config file beside it): then a cell that only defines a
    function (and may call it) is exception-based. As a doctest such a cell passes unless
    it raises, which is what an exception-based test does too, save that otter calls it.
    """
    lines = source.splitlines()
    config, start = _config(lines, index, problems)
    hidden = config.get("hidden") is True
    if start == 0 and lines and lines[0].lstrip().startswith("#") and _HIDDEN.search(lines[0]):
        hidden, start = True, 1
    code = "\n".join(lines[start:])
    messages = {k: str(config[k]) for k in ("success_message", "failure_message") if config.get(k)}
    if ok_format is None:
        ok_format = bool(outputs) or not _defines_one_test(code)
    if ok_format:
        expected = _expected(outputs)
        return TestCase(code, code, hidden, config.get("points"), messages, expected, True)
    function = _test_function(code, index, problems)
    return TestCase(
        exception_test_code(function) if function else code,
        ast.unparse(function) if function else code,
        hidden,
        config.get("points"),
        messages,
        None,
        False,
    )


def _config(lines: list[str], index: int, problems: list[Problem]) -> tuple[dict[str, Any], int]:
    if not lines or not _CONFIG_BEGIN.match(lines[0]):
        return {}, 0
    for end, line in enumerate(lines[1:], 1):
        if _CONFIG_END.match(line):
            return yaml_mapping("\n".join(lines[1:end]), index, problems), end + 1
    problems.append(problem("invalid_yaml", gettext_noop("the test config is never closed"), index))
    return {}, len(lines)


def _expected(outputs: list[Any]) -> str | None:
    """What the cell printed, then its displayed value: otter's expected doctest output."""
    parts: list[str] = []
    for output in outputs:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(_text(output.get("text")))
        elif output.get("output_type") == "execute_result":
            parts.append(_text((output.get("data") or {}).get("text/plain")))
    return "".join(parts) if parts else None


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _defines_one_test(code: str) -> bool:
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    if not body or len(body) > 2 or not isinstance(body[0], ast.FunctionDef):
        return False
    if len(body) == 1:
        return True
    call = body[1]
    return (
        isinstance(call, ast.Expr)
        and isinstance(call.value, ast.Call)
        and isinstance(call.value.func, ast.Name)
        and call.value.func.id == body[0].name
    )


def _test_function(code: str, index: int, problems: list[Problem]) -> ast.FunctionDef | None:
    """The function of an exception-based test cell: one ``def`` and, optionally, its call."""
    try:
        body = ast.parse(code).body
    except SyntaxError as exc:
        problems.append(
            problem(
                "syntax_error",
                gettext_noop("the test has a syntax error: %(error)s"),
                index,
                error=exc,
            )
        )
        return None
    if not body or len(body) > 2 or not isinstance(body[0], ast.FunctionDef):
        problems.append(
            problem(
                "otter_exception_test",
                gettext_noop(
                    "an exception-based test cell holds one function definition and, "
                    "optionally, a call to it"
                ),
                index,
            )
        )
        return None
    return body[0]


def exception_test_code(function: ast.FunctionDef) -> str:
    """The test's function, then otter's call of it: ``env`` gets the learner's globals,
    any other parameter the learner's global of that name (``None`` when there is none).
    The call runs inside a function so that no name of its own reaches the kernel."""
    args = function.args
    names = [a.arg for a in (*args.args, *args.kwonlyargs)]
    lines = [ast.unparse(function), "def __otter_call():"]
    arguments = []
    for number, name in enumerate(names):
        if name == "env":
            arguments.append("globals()")
            continue
        lines += [
            "    try:",
            f"        arg{number} = {name}",
            "    except NameError:",
            f"        arg{number} = None",
        ]
        arguments.append(f"arg{number}")
    keywords = ", ".join(f"{n}={a}" for n, a in zip(names, arguments, strict=True))
    lines += [f"    {function.name}({keywords})", "__otter_call()"]
    return "\n".join(lines)


# ---------------------------------------------------------------- points


def resolve_points(
    total: Any, tests: list[Any], name: str, index: int, problems: list[Problem]
) -> list[float] | None:
    """Otter's point value of each test case of a question (``tests``: each one's own
    ``points`` or None), or None when the question's points are invalid."""
    if isinstance(total, dict):
        each = number(total.get("each", 1), index, problems, default=1.0)
        total = each * len(tests)
    if isinstance(total, list):
        if len(total) != len(tests):
            problems.append(
                problem(
                    "points_invalid",
                    gettext_noop("question %(name)s lists %(given)s point values for %(n)s tests"),
                    index,
                    name=repr(name),
                    given=len(total),
                    n=len(tests),
                )
            )
            return None
        tests, total = list(total), None
    values = [None if p is None else number(p, index, problems, default=0.0) for p in tests]
    given = sum(v for v in values if v is not None)
    rest = sum(1 for v in values if v is None)
    if total is not None:
        total = number(total, index, problems, default=0.0)
        if given > total:
            problems.append(
                problem(
                    "points_invalid",
                    gettext_noop("the tests of question %(name)s are worth more than its points"),
                    index,
                    name=repr(name),
                )
            )
        share = max(total - given, 0.0) / rest if rest else 0.0
    else:
        # Only zeros given: the question is worth 1 point, shared by the others.
        share = 1.0 / rest if rest and given == 0 else 0.0
    return [share if v is None else v for v in values]


def number(value: Any, index: int, problems: list[Problem], *, default: float) -> float:
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


def yaml_mapping(text: str, index: int, problems: list[Problem]) -> dict[str, Any]:
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
