"""Connect a university's identity provider, for operators who script it.

    manage.py sso_add --org SLUG --saml-metadata-url URL [--domain D ...]
    manage.py sso_add --org SLUG --saml-metadata-file PATH [--domain D ...]
    manage.py sso_add --org SLUG --oidc-discovery-url URL --client-id ID --client-secret S
                      [--domain D ...]

Run again to replace the settings. Prints what to give the IdP's operator.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campus.models import Organization, Role
from campus.sso.metadata import (
    MetadataError,
    oidc_discovery_fetch,
    oidc_discovery_url,
    saml_metadata_fetch,
    saml_metadata_parse,
)
from campus.sso.services import IdpConfigError, idp_oidc_set, idp_saml_set, sp_urls


class Command(BaseCommand):
    help = "Connect a university's SAML 2.0 or OpenID Connect identity provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the university's slug")
        parser.add_argument("--name", help="the university's name, when it is created here")
        parser.add_argument("--country", default="", help="ISO 3166 code, when created here")
        saml = parser.add_mutually_exclusive_group()
        saml.add_argument("--saml-metadata-url")
        saml.add_argument("--saml-metadata-file", type=Path)
        parser.add_argument("--saml-entity-id", help="which IdP of an aggregate")
        parser.add_argument("--oidc-discovery-url")
        parser.add_argument("--client-id")
        parser.add_argument("--client-secret", default="")
        parser.add_argument(
            "--domain",
            action="append",
            default=[],
            help="an email domain the university owns (repeat for several)",
        )
        parser.add_argument(
            "--sso-only",
            action="store_true",
            default=None,
            help="people of the university's domains cannot use a password",
        )
        parser.add_argument(
            "--role",
            action="append",
            default=[],
            metavar="AFFILIATION=ROLE",
            help=f"role for an affiliation, e.g. faculty=instructor ({', '.join(Role.values)})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        saml = options["saml_metadata_url"] or options["saml_metadata_file"]
        oidc = options["oidc_discovery_url"]
        if bool(saml) == bool(oidc):
            raise CommandError(
                "Give either --saml-metadata-url / --saml-metadata-file, or --oidc-discovery-url."
            )
        role_map = self._role_map(options["role"])
        organization = self._organization(options)
        try:
            if saml:
                idp = self._saml(organization, options, role_map)
            else:
                if not options["client_id"]:
                    raise CommandError(
                        "--oidc-discovery-url needs --client-id (and --client-secret)."
                    )
                discovery = oidc_discovery_url(oidc)
                oidc_discovery_fetch(discovery)
                idp = idp_oidc_set(
                    organization=organization,
                    discovery_url=discovery,
                    client_id=options["client_id"],
                    client_secret=options["client_secret"],
                    sso_only=options["sso_only"],
                    role_map=role_map or None,
                    domains=options["domain"],
                )
        except (MetadataError, IdpConfigError) as error:
            raise CommandError(str(error)) from error
        urls = sp_urls(idp)
        self.stdout.write(f"{idp.get_protocol_display()} sign-in set for {organization.name}.")
        if urls.metadata_url:
            self.stdout.write(f"SP metadata URL (give it to the IdP): {urls.metadata_url}")
            self.stdout.write(f"Entity ID: {urls.metadata_url}")
            self.stdout.write(f"Assertion consumer service: {urls.acs_url}")
            self.stdout.write(f"Single logout service: {urls.sls_url}")
        else:
            self.stdout.write(f"Redirect URI (register it with the provider): {urls.redirect_uri}")
            self.stdout.write(
                f"Post-logout redirect URI (register it too): {urls.post_logout_redirect_uri}"
            )
        self.stdout.write(f"Sign-in starts at: {urls.login_url}")
        domains = list(organization.email_domains.values_list("domain", flat=True))
        if not domains:
            self.stdout.write(
                self.style.WARNING(
                    "The university owns no email domain yet (--domain): its sign-ins make new "
                    "accounts but never reach an existing one by its address."
                )
            )

    def _role_map(self, pairs: list[str]) -> dict[str, str]:
        role_map = {}
        for pair in pairs:
            affiliation, sep, role = pair.partition("=")
            if not sep or role not in Role.values:
                raise CommandError(
                    f"--role {pair}: write AFFILIATION=ROLE, ROLE one of {', '.join(Role.values)}"
                )
            role_map[affiliation.strip().lower()] = role
        return role_map

    def _organization(self, options: dict[str, Any]) -> Organization:
        organization, created = Organization.objects.get_or_create(
            slug=options["org"],
            defaults={"name": options["name"] or options["org"], "country": options["country"]},
        )
        if created:
            self.stdout.write(f"Created the university {organization.name} ({organization.slug}).")
        return organization

    def _saml(
        self, organization: Organization, options: dict[str, Any], role_map: dict[str, str]
    ) -> Any:
        url = options["saml_metadata_url"] or ""
        if url:
            xml = saml_metadata_fetch(url)
        else:
            path: Path = options["saml_metadata_file"]
            try:
                xml = path.read_text()
            except OSError as error:
                raise CommandError(f"Cannot read {path}: {error}") from error
        idp = saml_metadata_parse(xml, entity_id=options["saml_entity_id"])
        return idp_saml_set(
            organization=organization,
            idp=idp,
            metadata_url=url,
            sso_only=options["sso_only"],
            role_map=role_map or None,
            domains=options["domain"],
        )
