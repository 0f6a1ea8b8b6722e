"""Otter's test files, read without running them: OK format (``test = {...}``: doctests)
and exception-based (``@test_case`` functions).

Otter ``exec``s these files; here they are parsed. An OK-format file may hold only literal
assignments (``OK_FORMAT = True``, ``test = {...}``); an exception-based file only otter's
import, literal settings and test functions whose ``@test_case(...)`` arguments are
literals. Anything else is refused with its line. The same specs sit in a notebook's
metadata (``metadata.otter.tests``) when Otter Assign wrote the tests there: a dict for
OK format, the file's text for exception-based tests.
"""

from __future__ import annotations

import ast
import copy
import doctest
import re
from dataclasses import dataclass, field
from typing import Any

from . import otter_tests
from .model import Check, ExerciseCell, Problem, Role, gettext_noop, problem

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]{40,}")
_CASE_SETTINGS = frozenset({"name", "points", "hidden", "success_message", "failure_message"})
_FILE_SETTINGS = frozenset({"OK_FORMAT", "name", "points", "all_or_nothing"})


@dataclass(frozen=True)
class Case:
    name: str | None
    code: str  # a doctest, or the trusted code calling an exception-based test function
    shown: str  # what a learner sees of it when it is public
    hidden: bool
    points: Any
    messages: dict[str, str]
    doctest: bool


@dataclass(frozen=True)
class TestFile:
    __test__ = False  # not a pytest class

    name: str
    points: Any
    all_or_nothing: bool
    cases: list[Case] = field(default_factory=list)
    spec: dict[str, Any] | None = None  # an OK-format test's dict


def read_text(text: str, where: str, problems: list[Problem]) -> TestFile | None:
    """A test file's text (``tests/q1.py``), OK format or exception-based."""
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        problems.append(
            _problem(where, gettext_noop("%(where)s is not Python: %(error)s"), error=exc)
        )
        return None
    settings: dict[str, Any] = {}
    functions: list[tuple[ast.FunctionDef, dict[str, Any]]] = []
    for node in body:
        if not _read_statement(node, settings, functions, where, problems):
            return None
    if "test" in settings:
        return read_spec(settings["test"], where, problems)
    return _exception_file(settings, functions, where, problems)


def file_spec(text: str, where: str, problems: list[Problem]) -> Any:
    """What otter keeps of a test file in a notebook's metadata: an OK-format file's
    ``test`` dict, an exception-based file's text (None, with problems, if unreadable)."""
    test = read_text(text, where, problems)
    if test is None:
        return None
    return test.spec if test.spec is not None else text


def read_spec(spec: Any, where: str, problems: list[Problem]) -> TestFile | None:
    """One entry of ``metadata.otter.tests``: an OK-format dict, or an exception-based
    file's text."""
    if isinstance(spec, str):
        if _BASE64.fullmatch(spec.strip()):
            problems.append(
                _problem(
                    where,
                    gettext_noop(
                        "%(where)s holds compiled test code (base64), which is never loaded: "
                        "run Otter Assign again with a current otter-grader, or import the "
                        "tests folder"
                    ),
                )
            )
            return None
        return read_text(spec, where, problems)
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        problems.append(
            _problem(where, gettext_noop("%(where)s is not an OK-format test (a dict with a name)"))
        )
        return None
    suites = spec.get("suites")
    suite = suites[0] if isinstance(suites, list) and len(suites) == 1 else None
    if (
        not isinstance(suite, dict)
        or suite.get("type", "doctest") != "doctest"
        or suite.get("setup")
        or suite.get("teardown")
        or not isinstance(suite.get("cases"), list)
    ):
        problems.append(
            _problem(
                where,
                gettext_noop(
                    "%(where)s must hold one doctest suite of cases, without setup or teardown"
                ),
            )
        )
        return None
    cases = [_ok_case(case, where, problems) for case in suite["cases"]]
    return TestFile(
        spec["name"],
        spec.get("points"),
        spec.get("all_or_nothing") is True,
        [c for c in cases if c is not None],
        spec,
    )


def _ok_case(case: Any, where: str, problems: list[Problem]) -> Case | None:
    if not isinstance(case, dict) or not isinstance(case.get("code"), str):
        problems.append(
            _problem(where, gettext_noop("%(where)s has a test case without its doctest code"))
        )
        return None
    code = case["code"]
    try:
        doctest.DocTestParser().get_examples(code, where)
    except ValueError as exc:
        problems.append(
            _problem(where, gettext_noop("%(where)s has a malformed doctest: %(error)s"), error=exc)
        )
        return None
    name = case.get("name")
    return Case(
        name if isinstance(name, str) else None,
        code,
        code,
        case.get("hidden", True) is not False,  # otter's default: hidden
        case.get("points"),
        _messages(case),
        True,
    )


def _messages(settings: dict[str, Any]) -> dict[str, str]:
    keys = ("success_message", "failure_message")
    return {k: str(settings[k]) for k in keys if isinstance(settings.get(k), str) and settings[k]}


def _read_statement(
    node: ast.stmt,
    settings: dict[str, Any],
    functions: list[tuple[ast.FunctionDef, dict[str, Any]]],
    where: str,
    problems: list[Problem],
) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module == "otter.test_files":
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # a docstring
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in _FILE_SETTINGS | {"test"}
    ):
        value = _literal(node.value)
        if value is not _NOT_LITERAL:
            settings[node.targets[0].id] = value
            return True
    if isinstance(node, ast.FunctionDef):
        case_settings = _test_case_settings(node)
        if case_settings is not None:
            functions.append((node, case_settings))
            return True
    problems.append(
        _problem(
            where,
            gettext_noop(
                "%(where)s, line %(line)s: neither literal data nor a @test_case function "
                "(test files are read, never run)"
            ),
            line=node.lineno,
        )
    )
    return False


_NOT_LITERAL = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _test_case_settings(function: ast.FunctionDef) -> dict[str, Any] | None:
    """The literal arguments of the function's only decorator, ``@test_case(...)``."""
    if len(function.decorator_list) != 1:
        return None
    decorator = function.decorator_list[0]
    if isinstance(decorator, ast.Name) and decorator.id == "test_case":
        return {}
    if not (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Name)
        and decorator.func.id == "test_case"
        and not decorator.args
    ):
        return None
    settings = {}
    for keyword in decorator.keywords:
        value = _literal(keyword.value)
        if keyword.arg not in _CASE_SETTINGS or value is _NOT_LITERAL:
            return None
        settings[keyword.arg] = value
    return settings


def _exception_file(
    settings: dict[str, Any],
    functions: list[tuple[ast.FunctionDef, dict[str, Any]]],
    where: str,
    problems: list[Problem],
) -> TestFile | None:
    if not isinstance(settings.get("name"), str) or not functions:
        problems.append(
            _problem(
                where, gettext_noop("%(where)s names no test or defines no @test_case function")
            )
        )
        return None
    cases = []
    for function, case in functions:
        undecorated = copy.copy(function)
        undecorated.decorator_list = []
        name = case.get("name")
        cases.append(
            Case(
                name if isinstance(name, str) else None,
                otter_tests.exception_test_code(undecorated),
                ast.unparse(undecorated),
                case.get("hidden") is True,  # otter's default: public
                case.get("points"),
                _messages(case),
                False,
            )
        )
    return TestFile(
        settings["name"], settings.get("points"), settings.get("all_or_nothing") is True, cases
    )


def test_cells(
    test: TestFile, index: int, problems: list[Problem], *, question: str | None = None
) -> list[ExerciseCell]:
    """The test file's cases as test cells at ``index`` (where otter checks them), with
    otter's points: the file's ``points`` spread over cases that give none."""
    points = otter_tests.resolve_points(
        test.points, [c.points for c in test.cases], test.name, index, problems
    ) or [0.0] * len(test.cases)
    return [
        ExerciseCell(
            index,
            "code",
            Role.TEST,
            case.code,
            "" if case.hidden else case.shown,
            grade_id=case.name or f"{test.name} - {number}",
            points=case_points,
            hidden=case.hidden,
            check=Check.DOCTEST if case.doctest else Check.NBGRADER,
            question=question or test.name,
            messages=case.messages,
            all_or_nothing=test.all_or_nothing,
        )
        for number, (case, case_points) in enumerate(zip(test.cases, points, strict=True), 1)
    ]


def _problem(where: str, template: str, **args: object) -> Problem:
    return problem("otter_test_file", template, None, where=where, **args)
