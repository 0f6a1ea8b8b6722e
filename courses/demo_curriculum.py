"""The demo curriculum "Open AI models for science", shipped as a course folder.

`load_demo_curriculum()` imports the folder (course-format.md) into the demo university and
enrolls the demo accounts in a cohort. The reader below is a minimal importer of that
format: it validates everything before writing anything and updates the course in place.
It stands in until the instructors' `import_course` service lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from courses.assignment import ExerciseInvalid, parse_exercise
from courses.models import (
    Cohort,
    Course,
    Enrollment,
    EnrollmentRole,
    Exercise,
    Language,
    LatePolicy,
    Lesson,
    Module,
)

COURSE_DIR = Path(__file__).resolve().parent / "demo_courses" / "open-ai-models-for-science"
DEMO_ORG_SLUG = "demo-university"
DEMO_COHORT = "Open models demo cohort"
DEMO_MEMBERS = (
    ("student@demo.edu", EnrollmentRole.STUDENT),
    ("instructor@demo.edu", EnrollmentRole.INSTRUCTOR),
)

SLUG = re.compile(r"[-a-zA-Z0-9_]+")
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


class CourseFolderInvalid(ValueError):
    """The folder cannot be imported; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ItemSpec:
    slug: str
    title: str
    exercise: bool
    body: str = ""  # a lesson's Markdown
    notebook: dict[str, Any] | None = None  # an exercise's instructor notebook
    fields: dict[str, Any] | None = None  # an exercise's optional settings


@dataclass(frozen=True)
class ModuleSpec:
    title: str
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class CourseSpec:
    slug: str
    title: str
    summary: str
    language: str
    published: bool
    modules: tuple[ModuleSpec, ...]


def read_course(folder: Path) -> CourseSpec:
    """The validated contents of a course folder. Raises CourseFolderInvalid (every problem)."""
    problems: list[str] = []
    raw = yaml.safe_load((folder / "course.yaml").read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise CourseFolderInvalid(["course.yaml: expected a mapping"])
    _unknown_keys(raw, COURSE_KEYS, "course.yaml", problems)
    if raw.get("format") != 1:
        problems.append(f"course.yaml: format must be 1, not {raw.get('format')!r}")
    for key in ("slug", "title"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(f"course.yaml: `{key}` is required")
    if not SLUG.fullmatch(str(raw.get("slug", ""))):
        problems.append("course.yaml: `slug` may hold only letters, digits, - and _")
    if raw.get("language", "en") not in Language.values:
        problems.append(f"course.yaml: language must be one of {', '.join(Language.values)}")
    modules = tuple(
        _module(folder, number, module, problems)
        for number, module in enumerate(raw.get("modules") or [], 1)
    )
    if not modules:
        problems.append("course.yaml: a course needs at least one module")
    if problems:
        raise CourseFolderInvalid(problems)
    return CourseSpec(
        slug=str(raw["slug"]),
        title=str(raw["title"]),
        summary=str(raw.get("summary", "")).strip(),
        language=str(raw.get("language", "en")),
        published=bool(raw.get("published", False)),
        modules=modules,
    )


def _unknown_keys(raw: dict[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(raw) - allowed):
        problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _module(folder: Path, number: int, raw: Any, problems: list[str]) -> ModuleSpec:
    where = f"course.yaml: module {number}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return ModuleSpec(title="", items=())
    _unknown_keys(raw, MODULE_KEYS, where, problems)
    items = tuple(
        _item(folder, f"{where}, item {i}", item, problems)
        for i, item in enumerate(raw.get("items") or [], 1)
    )
    return ModuleSpec(title=str(raw.get("title", "")), items=items)


def _item(folder: Path, where: str, raw: Any, problems: list[str]) -> ItemSpec:
    if not isinstance(raw, dict) or ("lesson" in raw) == ("exercise" in raw):
        problems.append(f"{where}: an item is a mapping with either `lesson` or `exercise`")
        return ItemSpec(slug="", title="", exercise=False)
    slug = str(raw.get("lesson", raw.get("exercise")))
    if not SLUG.fullmatch(slug):
        # A slug names a file in the folder: nothing else may be read through it.
        problems.append(f"{where}: {slug!r} is not a slug (letters, digits, - and _)")
        return ItemSpec(slug="", title="", exercise=False)
    if "lesson" in raw:
        _unknown_keys(raw, LESSON_KEYS, where, problems)
        path = folder / "lessons" / f"{raw['lesson']}.md"
        if not path.is_file():
            problems.append(f"{where}: missing file lessons/{path.name}")
            return ItemSpec(slug=str(raw["lesson"]), title="", exercise=False)
        return ItemSpec(
            slug=str(raw["lesson"]),
            title=str(raw.get("title", "")),
            exercise=False,
            body=path.read_text(encoding="utf-8").strip(),
        )
    _unknown_keys(raw, EXERCISE_KEYS, where, problems)
    return _exercise_item(folder, where, raw, problems)


def _exercise_item(folder: Path, where: str, raw: dict[str, Any], problems: list[str]) -> ItemSpec:
    slug = str(raw["exercise"])
    path = folder / "exercises" / f"{slug}.ipynb"
    notebook: dict[str, Any] | None = None
    if not path.is_file():
        problems.append(f"{where}: missing file exercises/{path.name}")
    else:
        try:
            notebook = _notebook(path)
        except (ValueError, ExerciseInvalid) as exc:
            problems.append(f"exercises/{path.name}: {exc}")
    return ItemSpec(
        slug=slug,
        title=str(raw.get("title", "")),
        exercise=True,
        notebook=notebook,
        fields=_exercise_fields(where, raw, problems),
    )


def _exercise_fields(where: str, raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The optional exercise settings that are set, converted to model values."""
    fields = {
        key: raw[key] for key in EXERCISE_KEYS - {"exercise", "title"} if raw.get(key) is not None
    }
    for key in ("due_at", "hard_deadline"):
        if key in fields:
            # YAML may already have parsed the timestamp; a string must carry its offset.
            value = fields[key]
            parsed = value if isinstance(value, datetime) else _datetime(str(value))
            if parsed is None or parsed.tzinfo is None:
                problems.append(f"{where}: {key} must be an ISO 8601 datetime with an offset")
            fields[key] = parsed
    if fields.get("late_policy", LatePolicy.ACCEPT) not in LatePolicy.values:
        problems.append(f"{where}: unknown late_policy {fields['late_policy']!r}")
    attempts = fields.get("max_attempts", 1)
    if type(attempts) is not int or attempts < 1:
        problems.append(f"{where}: max_attempts must be a whole number of at least 1 or null")
    penalty = fields.get("late_penalty_percent_per_day", 0)
    if type(penalty) not in (int, float) or not 0 <= penalty <= 100:
        problems.append(f"{where}: late_penalty_percent_per_day must be between 0 and 100")
    elif "late_penalty_percent_per_day" in fields:
        fields["late_penalty_percent_per_day"] = Decimal(str(penalty))
    return fields


def _datetime(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _notebook(path: Path) -> dict[str, Any]:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("a notebook is a JSON object")
    parse_exercise(data=data)  # raises ExerciseInvalid with every per-cell problem
    return data


@transaction.atomic
def import_course_folder(*, folder: Path, organization: Any) -> Course:
    """Create or update (in place, matched by slug and position) the course in ``folder``."""
    spec = read_course(folder)
    course, _ = Course.objects.update_or_create(
        organization=organization,
        slug=spec.slug,
        defaults={
            "title": spec.title,
            "summary": spec.summary,
            "language": spec.language,
            "published": spec.published,
        },
    )
    for position, module_spec in enumerate(spec.modules, 1):
        module, _ = Module.objects.update_or_create(
            course=course, position=position, defaults={"title": module_spec.title}
        )
        for item_position, item in enumerate(module_spec.items, 1):
            _save_item(module, item_position, item)
    return course


def _save_item(module: Module, position: int, item: ItemSpec) -> None:
    if not item.exercise:
        Lesson.objects.update_or_create(
            module=module,
            slug=item.slug,
            defaults={"title": item.title, "body": item.body, "position": position},
        )
        return
    assert item.notebook is not None
    parsed = parse_exercise(data=item.notebook)
    Exercise.objects.update_or_create(
        module=module,
        slug=item.slug,
        defaults={
            "title": item.title,
            "position": position,
            "source": item.notebook,
            "source_format": parsed.format,
            "points": Decimal(str(parsed.max_score)),
            **(item.fields or {}),
        },
    )


@transaction.atomic
def load_demo_curriculum() -> Course:
    """Import the demo course into the demo university and enroll the demo accounts.

    Call after `seed_demo` (which creates the university and the accounts); safe to repeat.
    """
    from campus.models import Organization, User

    organization = Organization.objects.get(slug=DEMO_ORG_SLUG)
    course = import_course_folder(folder=COURSE_DIR, organization=organization)
    cohort, _ = Cohort.objects.get_or_create(
        course=course, name=DEMO_COHORT, defaults={"time_zone": "Europe/Paris"}
    )
    for email, role in DEMO_MEMBERS:
        user = User.objects.filter(email=email).first()
        if user is not None:
            Enrollment.objects.update_or_create(user=user, cohort=cohort, defaults={"role": role})
    return course
