"""Print a university's LTI Dynamic Registration URL (the one its LTI page shows)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from campus.models import Organization
from lti.registration import registration_token


class Command(BaseCommand):
    help = "Print the LTI Dynamic Registration URL to paste into a university's LMS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", help="the university's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No university with the slug {options['organization']!r}.")
        path = reverse(
            "lti:register", kwargs={"token": registration_token(organization=organization)}
        )
        self.stdout.write(settings.SITE_URL.rstrip("/") + path)
