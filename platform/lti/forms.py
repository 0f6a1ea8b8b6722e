"""The LTI pages' forms: a deployment id (university admins), linking an account."""

from django import forms
from django.utils.translation import gettext_lazy as _


class DeploymentForm(forms.Form):
    deployment_id = forms.CharField(label=_("Deployment id"), max_length=300)


class AccountLinkForm(forms.Form):
    email = forms.EmailField(label=_("Email address of your account here"))
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    code = forms.CharField(
        label=_("Code of your authenticator app"),
        required=False,
        max_length=20,
        help_text=_("Only if your account uses two-step sign-in."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
