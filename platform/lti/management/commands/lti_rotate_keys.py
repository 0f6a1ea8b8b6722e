"""Make a new LTI signing key; the old ones stay published until the grace period ends."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lti.keys import tool_key_rotate


class Command(BaseCommand):
    help = (
        "Rotate the LTI tool's signing key. The new key signs from now on; the previous keys "
        "stay in /lti/jwks.json for --grace-hours (platforms cache our JWKS), then are deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grace-hours", type=float, default=72.0)

    def handle(self, *args: Any, **options: Any) -> None:
        key = tool_key_rotate(grace=timedelta(hours=options["grace_hours"]))
        self.stdout.write(
            f"New signing key {key.kid}; older keys retire in {options['grace_hours']} h."
        )
