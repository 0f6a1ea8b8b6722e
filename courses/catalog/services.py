"""Writes on courses, modules and lessons: create, edit, order, publish; and importing a
course folder (check everything first, then write everything in one transaction)."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from campus.models import Organization
from courses.catalog.folder import REQUIREMENTS, CourseFolderInvalid, Source
from courses.catalog.plan import Plan, PlannedItem, read_plan
from courses.catalog.selectors import OutlineItem
from courses.environments.services import environment_request
from courses.models import (
    Course,
    EnvironmentStatus,
    Exercise,
    ExerciseValidation,
    GradeRule,
    Lesson,
    Module,
)


class AuthoringError(ValueError):
    """A change the instructor asked for cannot be made; the message says why."""


def unique_slug(*, title: str, taken: set[str], fallback: str = "item") -> str:
    """A slug from `title` that is not in `taken` (suffixes -2, -3... when needed)."""
    base = slugify(title)[:40] or fallback
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def course_create(
    *,
    organization: Organization,
    title: str,
    slug: str = "",
    summary: str = "",
    language: str,
    grade_rule: str = GradeRule.BEST,
) -> Course:
    taken = set(Course.objects.filter(organization=organization).values_list("slug", flat=True))
    if slug and slug in taken:
        raise AuthoringError(_("A course with this slug already exists in this university."))
    return Course.objects.create(
        organization=organization,
        title=title,
        slug=slug or unique_slug(title=title, taken=taken, fallback="course"),
        summary=summary,
        language=language,
        grade_rule=grade_rule,
    )


def course_update(
    *, course: Course, title: str, summary: str, language: str, grade_rule: str
) -> Course:
    """Save the course's settings. A changed grade rule is saved with `grade_rule` among
    the update_fields, which tells listeners (the LMS gradebooks) to recount."""
    fields = ["title", "summary", "language", "updated_at"]
    if course.grade_rule != grade_rule:
        fields.append("grade_rule")
    course.title, course.summary, course.language = title, summary, language
    course.grade_rule = grade_rule
    course.save(update_fields=fields)
    return course


def course_set_published(*, course: Course, published: bool) -> Course:
    """AuthoringError when publishing a course whose environment is not ready: learners
    could open its exercises but no kernel could run them."""
    environment = course.environment
    if published and environment is not None and environment.status != EnvironmentStatus.READY:
        raise AuthoringError(
            _("The course's packages are not ready (%(status)s): publish it once they are.")
            % {"status": EnvironmentStatus(environment.status).label}
        )
    course.published = published
    course.save(update_fields=["published", "updated_at"])
    return course


def module_create(*, course: Course, title: str) -> Module:
    last = Module.objects.filter(course=course).aggregate(m=Max("position"))["m"]
    return Module.objects.create(course=course, title=title, position=(last or 0) + 1)


def module_update(*, module: Module, title: str) -> Module:
    module.title = title
    module.save(update_fields=["title"])
    return module


def module_delete(*, module: Module) -> None:
    """Delete an empty-of-work module; refused when one of its exercises has submissions."""
    if Exercise.objects.filter(module=module, submissions__isnull=False).exists():
        raise AuthoringError(_("This module has exercises with submissions: it cannot be deleted."))
    module.delete()


def next_item_position(module: Module) -> int:
    lessons = Lesson.objects.filter(module=module).aggregate(m=Max("position"))["m"]
    exercises = Exercise.objects.filter(module=module).aggregate(m=Max("position"))["m"]
    return max(lessons or 0, exercises or 0) + 1


def item_slugs(module: Module) -> set[str]:
    return set(Lesson.objects.filter(module=module).values_list("slug", flat=True)) | set(
        Exercise.objects.filter(module=module).values_list("slug", flat=True)
    )


def lesson_create(*, module: Module, title: str, body: str = "", slug: str = "") -> Lesson:
    taken = item_slugs(module)
    if slug and slug in taken:
        raise AuthoringError(_("This module already has an item with this slug."))
    return Lesson.objects.create(
        module=module,
        title=title,
        body=body,
        slug=slug or unique_slug(title=title, taken=taken, fallback="lesson"),
        position=next_item_position(module),
    )


def lesson_update(*, lesson: Lesson, title: str, body: str) -> Lesson:
    lesson.title, lesson.body = title, body
    lesson.save(update_fields=["title", "body"])
    return lesson


def lesson_delete(*, lesson: Lesson) -> None:
    lesson.delete()


def items_reorder(*, module: Module, keys: list[str]) -> None:
    """Put the module's lessons and exercises in the order of `keys` ("lesson-<id>" or
    "exercise-<id>"). `keys` must name every item of the module exactly once."""
    lessons = {
        f"lesson-{pk}": pk
        for pk in Lesson.objects.filter(module=module).values_list("pk", flat=True)
    }
    exercises = {
        f"exercise-{pk}": pk
        for pk in Exercise.objects.filter(module=module).values_list("pk", flat=True)
    }
    if sorted(keys) != sorted(lessons | exercises):
        raise AuthoringError(_("The new order must list every item of the module once."))
    with transaction.atomic():
        for position, key in enumerate(keys, start=1):
            if key in lessons:
                Lesson.objects.filter(pk=lessons[key]).update(position=position)
            else:
                Exercise.objects.filter(pk=exercises[key]).update(position=position)


def item_move(*, module: Module, key: str, offset: int) -> None:
    """Move one item up (-1) or down (+1): the keyboard's way of reordering."""
    keys = [_item_key(item) for item in _module_items(module)]
    if key not in keys:
        raise AuthoringError(_("No such item in this module."))
    index = keys.index(key)
    target = min(max(index + offset, 0), len(keys) - 1)
    keys.insert(target, keys.pop(index))
    items_reorder(module=module, keys=keys)


def modules_reorder(*, course: Course, module_ids: list[int]) -> None:
    current = set(Module.objects.filter(course=course).values_list("pk", flat=True))
    if sorted(module_ids) != sorted(current):
        raise AuthoringError(_("The new order must list every module of the course once."))
    with transaction.atomic():
        for position, pk in enumerate(module_ids, start=1):
            Module.objects.filter(pk=pk).update(position=position)


def module_move(*, module: Module, offset: int) -> None:
    ids = list(Module.objects.filter(course_id=module.course_id).values_list("pk", flat=True))
    index = ids.index(module.pk)
    target = min(max(index + offset, 0), len(ids) - 1)
    ids.insert(target, ids.pop(index))
    modules_reorder(course=module.course, module_ids=ids)


def _item_key(item: OutlineItem) -> str:
    target = item.lesson or item.exercise
    assert target is not None
    return f"{item.kind}-{target.pk}"


def _module_items(module: Module) -> list[OutlineItem]:
    items = [OutlineItem("lesson", x.position, lesson=x) for x in module.lessons.all()]
    items += [OutlineItem("exercise", x.position, exercise=x) for x in module.exercises.all()]
    items.sort(key=lambda item: (item.position, item.kind))
    return items


# ------------------------------------------------------------------ course folders


@dataclass(frozen=True)
class FileOutcome:
    """What an import did with one file of the folder."""

    path: str
    outcome: str  # created, updated, removed, ignored, or problem
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    course: Course
    created: bool
    modules: int
    lessons: int
    exercises: int
    files: tuple[FileOutcome, ...] = ()


def import_problems_by_file(problems: list[str]) -> list[FileOutcome]:
    """CourseFolderInvalid's problems ("path: what") as one entry per file, in order."""
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        path, _sep, message = problem.partition(": ")
        grouped.setdefault(path, []).append(message or path)
    return [FileOutcome(path, "problem", tuple(found)) for path, found in grouped.items()]


def course_import(*, organization: Organization, path: Path) -> ImportReport:
    """Create or update (by slug, in `organization`) the course the folder or zip describes.

    Raises CourseFolderInvalid with every problem; nothing is written then.
    """
    source = Source(path)
    plan = read_plan(source)
    with transaction.atomic():
        course = (
            Course.objects.select_for_update()
            .filter(organization=organization, slug=plan.slug)
            .first()
        )
        _check_removals(course, plan)
        created = course is None
        course = _save_course(organization, course, plan)
        environment = environment_request(course=course, requirements=plan.requirements)
        held_back = (
            course.published
            and environment is not None
            and (environment.status != EnvironmentStatus.READY)
        )
        if held_back:
            # As course_set_published: learners could open exercises no kernel can run yet.
            course.published = False
            course.save(update_fields=["published", "updated_at"])
        modules, surplus = _save_modules(course, plan)
        files = _save_items(course, modules, plan)
        Module.objects.filter(pk__in=[m.pk for m in surplus]).delete()
    files.insert(0, FileOutcome("course.yaml", "created" if created else "updated"))
    if plan.requirements:
        unpublished = _("The course stays unpublished until its packages are ready.")
        files.insert(1, FileOutcome(REQUIREMENTS, "updated", (unpublished,) if held_back else ()))
    used = {outcome.path for outcome in files}
    files += [FileOutcome(name, "ignored") for name in source.names() if name not in used]
    saved = [f.path.split("/")[0] for f in files if f.outcome in ("created", "updated")]
    return ImportReport(
        course,
        created,
        len(modules),
        lessons=saved.count("lessons"),
        exercises=saved.count("exercises"),
        files=tuple(files),
    )


def _check_removals(course: Course | None, plan: Plan) -> None:
    """An exercise that has submissions is never deleted by an import."""
    if course is None:
        return
    kept = {i.slug for _title, items in plan.modules for i in items if i.kind == "exercise"}
    doomed = (
        Exercise.objects.filter(module__course=course, submissions__isnull=False)
        .exclude(slug__in=kept)
        .values_list("slug", flat=True)
        .distinct()
    )
    problems = [
        f"course.yaml: exercise {slug} has submissions and cannot be removed; keep it listed"
        for slug in doomed
    ]
    if problems:
        raise CourseFolderInvalid(problems)


def _save_course(organization: Organization, course: Course | None, plan: Plan) -> Course:
    values = {
        "title": plan.title,
        "summary": plan.summary,
        "language": plan.language,
        "published": plan.published,
    }
    if course is None:
        return Course.objects.create(organization=organization, slug=plan.slug, **values)
    for name, value in values.items():
        setattr(course, name, value)
    course.save(update_fields=[*values, "updated_at"])
    return course


def _save_modules(course: Course, plan: Plan) -> tuple[list[Module], list[Module]]:
    """The modules of the plan, by position, and the surplus ones (deleted once their
    surviving items have moved out)."""
    existing = list(Module.objects.filter(course=course))
    modules = []
    for position, (title, _items) in enumerate(plan.modules, start=1):
        if existing:
            module = existing.pop(0)
            module.title, module.position = title, position
            module.save(update_fields=["title", "position"])
        else:
            module = Module.objects.create(course=course, title=title, position=position)
        modules.append(module)
    return modules, existing


def _save_items(course: Course, modules: list[Module], plan: Plan) -> list[FileOutcome]:
    lessons = {x.slug: x for x in Lesson.objects.filter(module__course=course)}
    exercises = {x.slug: x for x in Exercise.objects.filter(module__course=course)}
    files = []
    for module, (_title, items) in zip(modules, plan.modules, strict=True):
        for position, item in enumerate(items, start=1):
            if item.kind == "lesson":
                lesson = lessons.pop(item.slug, None)
                _save_lesson(module, position, item, lesson)
                path, existed = f"lessons/{item.slug}.md", lesson is not None
            else:
                exercise = exercises.pop(item.slug, None)
                _save_exercise(module, position, item, exercise)
                path, existed = f"exercises/{item.slug}.ipynb", exercise is not None
            files.append(FileOutcome(path, "updated" if existed else "created"))
    files += [FileOutcome(f"lessons/{slug}.md", "removed") for slug in lessons]
    files += [FileOutcome(f"exercises/{slug}.ipynb", "removed") for slug in exercises]
    Lesson.objects.filter(pk__in=[x.pk for x in lessons.values()]).delete()
    Exercise.objects.filter(pk__in=[x.pk for x in exercises.values()]).delete()
    return files


def _save_lesson(module: Module, position: int, item: PlannedItem, lesson: Lesson | None) -> None:
    if lesson is None:
        Lesson.objects.create(
            module=module, slug=item.slug, title=item.title, body=item.text, position=position
        )
        return
    lesson.module, lesson.title, lesson.body, lesson.position = (
        module,
        item.title,
        item.text,
        position,
    )
    lesson.save(update_fields=["module", "title", "body", "position"])


def _save_exercise(
    module: Module, position: int, item: PlannedItem, exercise: Exercise | None
) -> None:
    values = {
        "module": module,
        "title": item.title,
        "position": position,
        "source": item.notebook,
        "source_format": item.source_format,
        "points": item.points,
        **item.settings,
    }
    if exercise is None:
        Exercise.objects.create(slug=item.slug, **values)
        return
    if exercise.source != item.notebook:
        # A changed notebook must be validated again.
        ExerciseValidation.objects.filter(exercise=exercise).delete()
    for name, value in values.items():
        setattr(exercise, name, value)
    exercise.save(update_fields=list(values))
