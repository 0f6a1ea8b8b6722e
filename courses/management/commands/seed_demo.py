from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from courses.demo.services import DEMO_ACCOUNTS, load_demo_curriculum, seed_demo


class Command(BaseCommand):
    help = "Load (or refresh) the demo university, accounts and courses. Idempotent."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--password", default=settings.DEMO_PASSWORD)

    def handle(self, *args: Any, **options: Any) -> None:
        course = seed_demo(password=options["password"])
        curriculum = load_demo_curriculum()
        self.stdout.write(f"Demo data ready: {course.organization.name} · {course.title}")
        self.stdout.write(f"Demo curriculum ready: {curriculum.title}")
        for account in DEMO_ACCOUNTS:
            self.stdout.write(f"  {account.email:<22} {account.role}")
