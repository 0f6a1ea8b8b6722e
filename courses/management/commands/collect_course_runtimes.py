from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from courses.environments.services import environments_collect


class Command(BaseCommand):
    help = (
        "Remove this host's course runtimes that no course's current packages need and that "
        "nothing used for COURSE_RUNTIME_GRACE_DAYS (never one a kernel runs in or a build "
        "writes). The beat task does the same hourly on one worker; run this on the others."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be removed, remove nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        collected = environments_collect(dry_run=options["dry_run"])
        verb = "Would remove" if options["dry_run"] else "Removed"
        self.stdout.write(
            f"{verb} {len(collected.removed)} course runtime(s), "
            f"{collected.freed_bytes / 2**20:.1f} MiB freed; kept {len(collected.in_use)} "
            f"unused but in use and {len(collected.recent)} used recently."
        )
        for key in collected.removed:
            self.stdout.write(f"  {key}")
