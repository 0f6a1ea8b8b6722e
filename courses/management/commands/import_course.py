from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from campus.models import Organization
from courses.catalog.folder import CourseFolderInvalid
from courses.catalog.services import course_import


class Command(BaseCommand):
    help = (
        "Create or update a course from a folder or zip in the course folder format. "
        "All or nothing: every problem is listed and nothing is written when there is one."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--org", required=True, help="the university's slug")
        parser.add_argument("source", type=Path, help="a course folder or a zip of one")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No university {options['org']}.")
        try:
            report = course_import(organization=organization, path=options["source"])
        except CourseFolderInvalid as exc:
            lines = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CommandError(f"Nothing was imported:\n{lines}") from exc
        verb = "Created" if report.created else "Updated"
        self.stdout.write(
            f"{verb} {report.course.title} ({report.course.slug}): {report.modules} modules, "
            f"{report.lessons} lessons, {report.exercises} exercises"
        )
