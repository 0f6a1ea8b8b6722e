"""Importing a course folder: check everything, then write everything in one transaction."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from campus.models import Organization
from courses.authoring.folder import CourseFolderInvalid, Plan, PlannedItem, Source, read_plan
from courses.models import Course, Exercise, ExerciseValidation, Lesson, Module


@dataclass(frozen=True)
class ImportReport:
    course: Course
    created: bool
    modules: int
    lessons: int
    exercises: int


def course_import(*, organization: Organization, path: Path) -> ImportReport:
    """Create or update (by slug, in `organization`) the course the folder or zip describes.

    Raises CourseFolderInvalid with every problem; nothing is written then.
    """
    plan = read_plan(Source(path))
    with transaction.atomic():
        course = (
            Course.objects.select_for_update()
            .filter(organization=organization, slug=plan.slug)
            .first()
        )
        _check_removals(course, plan)
        created = course is None
        course = _save_course(organization, course, plan)
        modules, surplus = _save_modules(course, plan)
        lessons, exercises = _save_items(course, modules, plan)
        Module.objects.filter(pk__in=[m.pk for m in surplus]).delete()
    return ImportReport(course, created, len(modules), lessons, exercises)


def _check_removals(course: Course | None, plan: Plan) -> None:
    """An exercise that has submissions is never deleted by an import."""
    if course is None:
        return
    kept = {item.slug for _, items in plan.modules for item in items if item.kind == "exercise"}
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
    for position, (title, _) in enumerate(plan.modules, start=1):
        if existing:
            module = existing.pop(0)
            module.title, module.position = title, position
            module.save(update_fields=["title", "position"])
        else:
            module = Module.objects.create(course=course, title=title, position=position)
        modules.append(module)
    return modules, existing


def _save_items(course: Course, modules: list[Module], plan: Plan) -> tuple[int, int]:
    lessons = {x.slug: x for x in Lesson.objects.filter(module__course=course)}
    exercises = {x.slug: x for x in Exercise.objects.filter(module__course=course)}
    n_lessons = n_exercises = 0
    for module, (_, items) in zip(modules, plan.modules, strict=True):
        for position, item in enumerate(items, start=1):
            if item.kind == "lesson":
                _save_lesson(module, position, item, lessons.pop(item.slug, None))
                n_lessons += 1
            else:
                _save_exercise(module, position, item, exercises.pop(item.slug, None))
                n_exercises += 1
    Lesson.objects.filter(pk__in=[x.pk for x in lessons.values()]).delete()
    Exercise.objects.filter(pk__in=[x.pk for x in exercises.values()]).delete()
    return n_lessons, n_exercises


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


__all__ = ["CourseFolderInvalid", "ImportReport", "course_import"]
