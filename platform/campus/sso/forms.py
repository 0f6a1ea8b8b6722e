"""Forms of university sign-in: allauth's login and signup forms that send the people of
an SSO-only university to their university, and the admin's provider options."""

from typing import Any

from allauth.account.forms import LoginForm, SignupForm
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campus.models import Role
from campus.sso.selectors import sso_only_idp_for_email


def sso_only_message(email: str) -> str | None:
    idp = sso_only_idp_for_email(email=email)
    if idp is None:
        return None
    return _(
        "%(university)s signs its people in itself: use “Sign in with your university” "
        "below, not a password."
    ) % {"university": idp.organization.name}


class UniversityLoginForm(LoginForm):
    def clean(self) -> dict[str, Any]:
        message = sso_only_message(str(self.data.get("login", "")).strip())
        if message:
            raise forms.ValidationError(message, code="sso_only")
        return super().clean()


class UniversitySignupForm(SignupForm):
    def clean_email(self) -> str:
        email = super().clean_email()
        message = sso_only_message(email)
        if message:
            raise forms.ValidationError(message, code="sso_only")
        return email


class IdpOptionsForm(forms.Form):
    """What a university admin may change about its provider's sign-ins."""

    sso_only = forms.BooleanField(
        label=gettext_lazy("University sign-in only (no passwords for the university's domains)"),
        required=False,
    )
    default_role = forms.ChoiceField(
        label=gettext_lazy("Role of new members"), choices=Role.choices
    )
    role_map = forms.CharField(
        label=gettext_lazy("Roles by affiliation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One per line: affiliation=role, e.g. faculty=instructor."),
    )

    def clean_role_map(self) -> dict[str, str]:
        mapping = {}
        for line in self.cleaned_data["role_map"].splitlines():
            if not line.strip():
                continue
            affiliation, sep, role = line.partition("=")
            role = role.strip()
            if not sep or not affiliation.strip() or role not in Role.values:
                raise forms.ValidationError(
                    _("“%(line)s”: write affiliation=role, with a role among: %(roles)s.")
                    % {"line": line.strip(), "roles": ", ".join(Role.values)}
                )
            mapping[affiliation.strip().lower()] = role
        return mapping


class SamlIdpForm(forms.Form):
    metadata_url = forms.URLField(
        label=gettext_lazy("IdP metadata URL"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("Read again as its keys roll over. Or upload the file below."),
    )
    metadata_file = forms.FileField(label=gettext_lazy("IdP metadata file"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("metadata_url")) == bool(cleaned.get("metadata_file")):
            raise forms.ValidationError(
                _("Give the metadata URL or upload the file (one of them).")
            )
        return cleaned


class OidcIdpForm(forms.Form):
    discovery_url = forms.URLField(
        label=gettext_lazy("Issuer or discovery URL"),
        assume_scheme="https",
        help_text=gettext_lazy("e.g. https://login.microsoftonline.com/TENANT/v2.0"),
    )
    client_id = forms.CharField(label=gettext_lazy("Client ID"), max_length=191)
    client_secret = forms.CharField(
        label=gettext_lazy("Client secret"),
        required=False,
        max_length=191,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Leave empty to keep the current one."),
    )
