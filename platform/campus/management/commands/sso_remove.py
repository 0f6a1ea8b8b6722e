"""Disconnect a university's identity provider."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campus.models import IdentityProvider
from campus.sso.services import idp_remove


class Command(BaseCommand):
    help = "Remove a university's identity provider (all of them, or one protocol's)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the university's slug")
        parser.add_argument("--protocol", choices=IdentityProvider.Protocol.values)

    def handle(self, *args: Any, **options: Any) -> None:
        idps = IdentityProvider.objects.select_related("app", "organization").filter(
            organization__slug=options["org"]
        )
        if options["protocol"]:
            idps = idps.filter(protocol=options["protocol"])
        found = list(idps)
        if not found:
            raise CommandError(f"No identity provider for {options['org']}.")
        for idp in found:
            idp_remove(idp=idp, actor=None)
            self.stdout.write(
                f"Removed {idp.get_protocol_display()} sign-in of {idp.organization.name}."
            )
