"""Writing a course out in the course folder format (courses.catalog.folder), to a folder
or a zip. Importing it back is lossless: catalog.services.course_import updates a course of
the same slug in place (modules by position, lessons and exercises by slug)."""

import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from courses.catalog.folder import FORMAT, REQUIREMENTS
from courses.catalog.selectors import course_outline
from courses.models import Course, Exercise, Lesson


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
