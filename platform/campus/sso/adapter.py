"""allauth's social account hooks for university sign-in. Thin: each hook reads the
assertion and calls services; the rules live in campus.sso.services."""

from typing import Any

from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.translation import gettext as _

from campus.models import IdentityProvider, User
from campus.sso.attributes import Assertion, assertion_of
from campus.sso.providers import SSO_LOGOUT_STATE_KEY
from campus.sso.selectors import email_in_use, has_domains, idp_for_provider_id, owned_domains
from campus.sso.services import (
    SignInRefused,
    sso_account_created,
    sso_account_for_email,
    sso_account_link,
    sso_member_ensure,
)


def _refuse(request: HttpRequest, message: str) -> ImmediateHttpResponse:
    return ImmediateHttpResponse(
        render(request, "campus/sso/refused.html", {"message": message}, status=403)
    )


class UniversitySocialAccountAdapter(DefaultSocialAccountAdapter):
    def _idp_and_assertion(
        self, request: HttpRequest, sociallogin: Any
    ) -> tuple[IdentityProvider, Assertion]:
        idp = idp_for_provider_id(sociallogin.account.provider)
        if idp is None:
            raise _refuse(request, _("This sign-in is not configured for any university."))
        user = sociallogin.user
        assertion = assertion_of(
            extra_data=sociallogin.account.extra_data or {},
            common={
                "email": getattr(user, "email", ""),
                "name": getattr(user, "name", ""),
                "first_name": getattr(user, "first_name", ""),
                "last_name": getattr(user, "last_name", ""),
            },
            owned=owned_domains(organization=idp.organization),
        )
        return idp, assertion

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        """Decide, before allauth logs anyone in, which account this sign-in is."""
        record = getattr(sociallogin, "sso_logout", None)
        if record:
            # state survives an MFA stage between here and the login (campus.signals).
            sociallogin.state[SSO_LOGOUT_STATE_KEY] = record
        if sociallogin.is_existing:
            # Linked by the IdP's stable id: the same person as before.
            idp, assertion = self._idp_and_assertion(request, sociallogin)
            sso_member_ensure(idp=idp, user=sociallogin.user, affiliations=assertion.affiliations)
            return
        idp, assertion = self._idp_and_assertion(request, sociallogin)
        if not assertion.email and assertion.foreign_email and not has_domains(idp.organization):
            self._account_without_domains(request, sociallogin, idp, assertion.foreign_email)
            return
        if not assertion.email:
            if assertion.foreign_email:
                message = _(
                    "%(university)s asserted the address %(email)s, which is not in its "
                    "domains. Ask the university's admin to add the domain, or to release "
                    "your university address (attribute mail)."
                ) % {"university": idp.organization.name, "email": assertion.foreign_email}
            else:
                message = _(
                    "%(university)s did not release your email address. Ask its identity "
                    "provider's operator to release the mail attribute to this platform."
                ) % {"university": idp.organization.name}
            raise _refuse(request, message)
        if sociallogin.state.get("process") == "connect":
            return
        try:
            user = sso_account_for_email(idp=idp, assertion=assertion)
        except SignInRefused as refused:
            raise _refuse(request, str(refused)) from refused
        if user is not None:
            # Secure the account first: linking may clear sign-ins a stranger attached.
            sso_account_link(idp=idp, user=user, assertion=assertion, uid=sociallogin.account.uid)
            sociallogin.connect(request, user)
            return
        # A just-in-time account: only the address in the university's domains, verified
        # by the university's assertion.
        sociallogin.user.email = assertion.email
        sociallogin.email_addresses = [
            EmailAddress(email=assertion.email, verified=True, primary=True)
        ]

    def _account_without_domains(
        self, request: HttpRequest, sociallogin: Any, idp: IdentityProvider, email: str
    ) -> None:
        """A university that owns no domain yet: its IdP may make new accounts, with the
        address left unverified, but never reaches an existing one by its address."""
        if sociallogin.state.get("process") == "connect":
            return
        if email_in_use(email=email):
            raise _refuse(
                request,
                _(
                    "An account already uses %(email)s. %(university)s owns no email domain "
                    "on this platform, so its sign-in is not linked to that account: log in "
                    "to it and connect your university account from the account page."
                )
                % {"email": email, "university": idp.organization.name},
            )
        sociallogin.user.email = email
        sociallogin.email_addresses = [EmailAddress(email=email, verified=False, primary=True)]

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        name = (
            str(data.get("name") or "").strip()
            or " ".join(str(data.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
        )
        user.name = name[:200]
        return user

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # Just-in-time accounts: a university's people need no invitation.
        return True

    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> User:
        idp, assertion = self._idp_and_assertion(request, sociallogin)
        user = super().save_user(request, sociallogin, form)
        sso_account_created(idp=idp, user=user, assertion=assertion, uid=sociallogin.account.uid)
        return user
