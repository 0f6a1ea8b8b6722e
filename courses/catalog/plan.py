"""What a course folder says, checked: the plan an import writes. Every problem is
collected (CourseFolderInvalid lists them all), so nothing is written when there is one."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from campus.payloads import json_loads_bounded
from courses.assignment import ExerciseInvalid, parse_exercise, with_test_files
from courses.catalog.folder import FORMAT, REQUIREMENTS, CourseFolderInvalid, Source
from courses.models import LatePolicy
from sandbox import MAX_PINS, parse_pins

COURSE_KEYS = {"format", "slug", "title", "summary", "language", "published", "modules"}
MODULE_KEYS = {"title", "items"}
LESSON_KEYS = {"lesson", "title"}
EXERCISE_KEYS = {
    "exercise",
    "title",
    "max_attempts",
    "late_policy",
    "late_penalty_percent_per_day",
    "due_at",
    "hard_deadline",
}


@dataclass
class PlannedItem:
    kind: str
    slug: str
    title: str
    text: str = ""  # lesson body
    notebook: dict[str, Any] = field(default_factory=dict)
    points: Decimal = Decimal(0)
    source_format: str = "nbgrader"
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    slug: str
    title: str
    summary: str
    language: str
    published: bool
    modules: list[tuple[str, list[PlannedItem]]]
    requirements: str = ""  # normalised pins, one a line


def read_plan(source: Source) -> Plan:
    """Everything the folder says, checked; CourseFolderInvalid with every problem."""
    problems: list[str] = []
    raw = source.read("course.yaml")
    if raw is None:
        raise CourseFolderInvalid(["course.yaml: missing"])
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CourseFolderInvalid([f"course.yaml: not valid YAML: {exc}"]) from exc
    if not isinstance(document, dict):
        raise CourseFolderInvalid(["course.yaml: must be a mapping of keys to values"])
    _check_keys("course.yaml", document, COURSE_KEYS, {"format", "slug", "title"}, problems)
    if document.get("format") != FORMAT:
        problems.append(f"course.yaml: format must be {FORMAT}")
    if document.get("language", "en") not in ("en", "fr"):
        problems.append("course.yaml: language must be en or fr")
    slug = document.get("slug")
    if not _is_slug(slug):
        problems.append("course.yaml: slug must be lowercase letters, digits and hyphens")
    modules = _read_modules(source, document.get("modules") or [], problems)
    requirements = _read_requirements(source, problems)
    if problems:
        raise CourseFolderInvalid(problems)
    return Plan(
        slug=str(slug),
        title=str(document["title"]),
        summary=str(document.get("summary") or ""),
        language=str(document.get("language", "en")),
        published=bool(document.get("published", False)),
        modules=modules,
        requirements=requirements,
    )


def course_folder_slug(path: Path) -> str:
    """The slug course.yaml names (before anything else is checked); "" when it names none."""
    raw = Source(path).read("course.yaml")
    try:
        document = yaml.safe_load(raw.decode("utf-8")) if raw else None
    except (yaml.YAMLError, UnicodeDecodeError):
        return ""
    slug = document.get("slug") if isinstance(document, dict) else None
    return str(slug) if _is_slug(slug) else ""


def _read_requirements(source: Source, problems: list[str]) -> str:
    raw = source.read(REQUIREMENTS)
    if raw is None:
        return ""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{REQUIREMENTS}: not UTF-8 text")
        return ""
    pins, errors = parse_pins(text)
    for error in errors:
        if error.problem == "too_many":
            problems.append(f"{REQUIREMENTS}: at most {MAX_PINS} packages")
        elif error.problem == "duplicate":
            problems.append(f"{REQUIREMENTS}: line {error.line}: {error.text!r} pinned twice")
        else:
            problems.append(
                f"{REQUIREMENTS}: line {error.line}: {error.text!r} is not name==version"
            )
    return "\n".join(pins)


def _read_modules(
    source: Source, modules: Any, problems: list[str]
) -> list[tuple[str, list[PlannedItem]]]:
    if not isinstance(modules, list):
        problems.append("course.yaml: modules must be a list")
        return []
    planned = []
    seen: set[tuple[str, str]] = set()
    for m, module in enumerate(modules, start=1):
        where = f"course.yaml: module {m}"
        if not isinstance(module, dict):
            problems.append(f"{where}: must be a mapping with title and items")
            continue
        _check_keys(where, module, MODULE_KEYS, {"title"}, problems)
        items = []
        for i, item in enumerate(module.get("items") or [], start=1):
            planned_item = _read_item(source, f"{where}, item {i}", item, problems)
            if planned_item is None:
                continue
            key = (planned_item.kind, planned_item.slug)
            if key in seen:
                problems.append(f"{where}, item {i}: {key[0]} {key[1]} appears twice")
            seen.add(key)
            items.append(planned_item)
        planned.append((str(module.get("title", "")), items))
    return planned


def _read_item(source: Source, where: str, item: Any, problems: list[str]) -> PlannedItem | None:
    if not isinstance(item, dict) or ("lesson" in item) == ("exercise" in item):
        problems.append(f"{where}: must name exactly one of lesson or exercise")
        return None
    kind = "lesson" if "lesson" in item else "exercise"
    _check_keys(
        where, item, LESSON_KEYS if kind == "lesson" else EXERCISE_KEYS, {kind, "title"}, problems
    )
    slug = item[kind]
    if not _is_slug(slug):
        problems.append(f"{where}: {slug!r} is not a valid slug")
        return None
    path = f"lessons/{slug}.md" if kind == "lesson" else f"exercises/{slug}.ipynb"
    data = source.read(path)
    if data is None:
        problems.append(f"{path}: missing (named in {where})")
        return None
    title = str(item.get("title", ""))
    if kind == "lesson":
        try:
            return PlannedItem("lesson", slug, title, text=data.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
            return None
    tests = _test_files(source, f"exercises/{slug}/tests/", problems)
    return _read_exercise(path, slug, title, data, item, tests, problems)


def _test_files(source: Source, folder: str, problems: list[str]) -> dict[str, str]:
    """An otter exercise's tests folder (``exercises/<slug>/tests/q1.py``), by file name."""
    files = {}
    for name in source.names():
        if name.startswith(folder) and name.endswith(".py") and "/" not in name[len(folder) :]:
            try:
                files[name[len(folder) :]] = (source.read(name) or b"").decode("utf-8")
            except UnicodeDecodeError:
                problems.append(f"{name}: not UTF-8 text")
    return files


def _read_exercise(
    path: str,
    slug: str,
    title: str,
    data: bytes,
    item: dict[str, Any],
    tests: dict[str, str],
    problems: list[str],
) -> PlannedItem | None:
    """The exercise's notebook, with its otter tests folder (if any) folded into its
    metadata, where otter also keeps tests: the stored exercise is then one file."""
    settings = _exercise_settings(path, item, problems)
    try:
        notebook = json_loads_bounded(data)
        if tests and isinstance(notebook, dict):
            notebook, test_problems = with_test_files(notebook, tests)
            folder = path.removesuffix(".ipynb")
            problems.extend(f"{folder}/{problem}" for problem in test_problems)
        parsed = parse_exercise(data=notebook)
    except ExerciseInvalid as exc:
        problems.extend(f"{path}: {problem}" for problem in exc.problems)
        return None
    except ValueError as exc:
        problems.append(f"{path}: not a notebook ({exc})")
        return None
    return PlannedItem(
        "exercise",
        slug,
        title,
        notebook=notebook,
        points=Decimal(str(parsed.max_score)),
        source_format=parsed.format,
        settings=settings,
    )


def _exercise_settings(path: str, item: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "max_attempts": item.get("max_attempts"),
        "late_policy": item.get("late_policy") or LatePolicy.ACCEPT,
        "late_penalty_percent_per_day": Decimal(str(item.get("late_penalty_percent_per_day") or 0)),
    }
    attempts = settings["max_attempts"]
    if attempts is not None and (not isinstance(attempts, int) or attempts < 1):
        problems.append(f"{path}: max_attempts must be a positive whole number or null")
    if settings["late_policy"] not in LatePolicy.values:
        problems.append(f"{path}: late_policy must be one of accept, penalty, refuse")
    for name in ("due_at", "hard_deadline"):
        settings[name] = _datetime(path, name, item.get(name), problems)
    return settings


def _datetime(path: str, name: str, value: Any, problems: list[str]) -> datetime | None:
    if value is None:
        return None
    try:
        # YAML may already have read an unquoted timestamp as a datetime.
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(
            f"{path}: {name} must be an ISO 8601 date and time, like 2026-01-31T23:59:00+01:00"
        )
        return None
    if parsed.tzinfo is None:
        problems.append(f"{path}: {name} needs a UTC offset (for example +00:00)")
        return None
    return parsed


def _check_keys(
    where: str, mapping: dict[str, Any], allowed: set[str], required: set[str], problems: list[str]
) -> None:
    for key in sorted(set(mapping) - allowed, key=str):
        problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(mapping)):
        problems.append(f"{where}: missing key {key!r}")


def _is_slug(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value) is not None
