"""List the universities' identity providers and what their operators were given."""

from typing import Any

from django.core.management.base import BaseCommand

from campus.models import IdentityProvider
from campus.sso.services import sp_urls


class Command(BaseCommand):
    help = "List university identity providers (SAML 2.0, OpenID Connect)."

    def handle(self, *args: Any, **options: Any) -> None:
        idps = IdentityProvider.objects.select_related("app", "organization").prefetch_related(
            "organization__email_domains"
        )
        if not idps:
            self.stdout.write("No identity provider is configured.")
            return
        for idp in idps:
            urls = sp_urls(idp)
            settings = idp.app.settings
            source = (
                settings.get("idp", {}).get("metadata_url")
                or settings.get("idp", {}).get("entity_id")
                if idp.protocol == IdentityProvider.Protocol.SAML
                else settings.get("server_url", "")
            )
            domains = ", ".join(d.domain for d in idp.organization.email_domains.all()) or "-"
            self.stdout.write(
                f"{idp.organization.slug}\t{idp.protocol}\t{source}\tdomains: {domains}\t"
                f"{'sso-only' if idp.sso_only else 'password allowed'}\t"
                f"{urls.metadata_url or urls.redirect_uri}"
            )
