from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from courses.catalog.export import course_export
from courses.models import Course


class Command(BaseCommand):
    help = (
        "Write a course to a folder (course.yaml, lessons/*.md, exercises/*.ipynb), "
        "or to a zip when DESTINATION ends in .zip."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--org", required=True, help="the university's slug")
        parser.add_argument("course", help="the course's slug")
        parser.add_argument("destination", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        course = Course.objects.filter(
            organization__slug=options["org"], slug=options["course"]
        ).first()
        if course is None:
            raise CommandError(f"No course {options['course']} in university {options['org']}.")
        path = course_export(course=course, destination=options["destination"])
        self.stdout.write(f"Exported {course.title} to {path}")
