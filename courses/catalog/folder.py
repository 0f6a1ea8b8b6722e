"""The course folder format: course.yaml, lessons/<slug>.md, exercises/<slug>.ipynb, and
requirements.txt when the course pins packages (one name==version a line). An otter
exercise may keep its tests in a folder beside it, as otter does: exercises/<slug>/tests/.

`course_export` writes a course to a folder or a zip; `course_import` reads one back,
all or nothing: every problem is collected first and nothing is written when there is one.
Importing a slug that exists in the university updates that course in place (modules by
position, lessons and exercises by slug), so export → import is lossless.
"""

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from campus.payloads import json_loads_bounded
from courses.assignment import ExerciseInvalid, parse_exercise, with_test_files
from courses.catalog.selectors import course_outline
from courses.models import Course, Exercise, LatePolicy, Lesson
from sandbox import MAX_PINS, parse_pins

FORMAT = 1
REQUIREMENTS = "requirements.txt"


class CourseFolderInvalid(ValueError):
    """The folder cannot be imported; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ------------------------------------------------------------------------- export


def course_document(*, course: Course) -> tuple[dict[str, Any], dict[str, str]]:
    """course.yaml's content and the other files (relative path → text)."""
    files: dict[str, str] = {}
    modules = []
    for entry in course_outline(course=course):
        items = []
        for item in entry.items:
            if item.lesson is not None:
                lesson = Lesson.objects.get(pk=item.lesson.pk)
                files[f"lessons/{lesson.slug}.md"] = lesson.body
                items.append({"lesson": lesson.slug, "title": lesson.title})
            elif item.exercise is not None:
                exercise = Exercise.objects.get(pk=item.exercise.pk)
                files[f"exercises/{exercise.slug}.ipynb"] = (
                    json.dumps(exercise.source, indent=1, ensure_ascii=False) + "\n"
                )
                items.append(_exercise_entry(exercise))
        modules.append({"title": entry.module.title, "items": items})
    document = {
        "format": FORMAT,
        "slug": str(course.slug),
        "title": course.title,
        "summary": course.summary,
        "language": str(course.language),
        "published": course.published,
        "modules": modules,
    }
    if course.requirements:
        files[REQUIREMENTS] = course.requirements + "\n"
    return document, files


def _exercise_entry(exercise: Exercise) -> dict[str, Any]:
    return {
        "exercise": exercise.slug,
        "title": exercise.title,
        "max_attempts": exercise.max_attempts,
        "late_policy": str(exercise.late_policy),
        "late_penalty_percent_per_day": _number(exercise.late_penalty_percent_per_day),
        "due_at": exercise.due_at.isoformat() if exercise.due_at else None,
        "hard_deadline": exercise.hard_deadline.isoformat() if exercise.hard_deadline else None,
    }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def course_export(*, course: Course, destination: Path) -> Path:
    """Write the course to `destination`: a folder, or a zip when it ends in .zip."""
    document, files = course_document(course=course)
    files["course.yaml"] = yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    if destination.suffix == ".zip":
        destination.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in sorted(files.items()):
                archive.writestr(f"{course.slug}/{name}", text.encode())
        return destination
    for name, text in files.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    return destination


# ------------------------------------------------------------------------- reading


# What an import reads at most: a course is text and notebooks, never gigabytes. A zip's
# members are checked before anything is decompressed (a zip bomb declares its sizes), and
# read in pieces that stop at the declared size.
MAX_FILES = 2000
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
READ_CHUNK = 1024 * 1024


class Source:
    """A course folder or zip, read file by file (a zip is never extracted). Nothing outside
    the folder is read: a symbolic link that leads out of it is refused."""

    def __init__(self, path: Path) -> None:
        self._files: dict[str, bytes] = {}
        if path.is_dir():
            self._files = _read_folder(path)
        elif zipfile.is_zipfile(path):
            self._files = _strip_root_folder(_read_zip(path))
        else:
            raise CourseFolderInvalid([f"{path.name}: neither a folder nor a zip file"])

    def read(self, name: str) -> bytes | None:
        return self._files.get(name)

    def names(self) -> list[str]:
        return sorted(self._files)


def _read_folder(path: Path) -> dict[str, bytes]:
    root = path.resolve()
    files: dict[str, bytes] = {}
    problems: list[str] = []
    total = 0
    for folder, subfolders, names in os.walk(path):  # never into a linked folder
        here = Path(folder)
        subfolders[:] = [d for d in subfolders if d != ".git"]
        for entry in sorted([*subfolders, *names]):
            file = here / entry
            name = file.relative_to(path).as_posix()
            if file.is_symlink() and not file.resolve().is_relative_to(root):
                problems.append(f"{name}: a link to outside the course folder, not followed")
                continue
            if entry in subfolders or not file.is_file():
                continue
            size = file.stat().st_size
            total += size
            if size > MAX_FILE_BYTES:
                problems.append(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB")
            elif len(files) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                raise CourseFolderInvalid([_too_much()])
            else:
                files[name] = file.read_bytes()
    if problems:
        raise CourseFolderInvalid(problems)
    return files


def _too_much() -> str:
    return (
        f"more than {MAX_FILES} files or {MAX_TOTAL_BYTES // 2**20} MB in all: "
        "a course folder holds text and notebooks"
    )


def _read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > MAX_FILES or sum(i.file_size for i in members) > MAX_TOTAL_BYTES:
            raise CourseFolderInvalid([_too_much()])
        problems = [
            f"{i.filename}: larger than {MAX_FILE_BYTES // 2**20} MB, or compressed more than "
            f"{MAX_COMPRESSION_RATIO} times (a zip bomb?)"
            for i in members
            if i.file_size > MAX_FILE_BYTES
            or i.file_size > MAX_COMPRESSION_RATIO * max(i.compress_size, 1024)
        ]
        if problems:
            raise CourseFolderInvalid(problems)
        return {i.filename: _read_member(archive, i) for i in members}


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    data = bytearray()
    with archive.open(info) as member:
        while piece := member.read(READ_CHUNK):
            data += piece
            if len(data) > info.file_size:  # never more than it declared
                raise CourseFolderInvalid([f"{info.filename}: larger than it declares"])
    return bytes(data)


def _strip_root_folder(members: dict[str, bytes]) -> dict[str, bytes]:
    """A zip holds course.yaml at its root or inside one top folder."""
    if "course.yaml" in members:
        return members
    roots = {PurePosixPath(name).parts[0] for name in members}
    if len(roots) == 1:
        root = roots.pop()
        return {name[len(root) + 1 :]: data for name, data in members.items()}
    return members


def course_folder_slug(path: Path) -> str:
    """The slug course.yaml names (before anything else is checked); "" when it names none."""
    raw = Source(path).read("course.yaml")
    try:
        document = yaml.safe_load(raw.decode("utf-8")) if raw else None
    except (yaml.YAMLError, UnicodeDecodeError):
        return ""
    slug = document.get("slug") if isinstance(document, dict) else None
    return str(slug) if _is_slug(slug) else ""


# ------------------------------------------------------------------------- checking

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
