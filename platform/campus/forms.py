from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from django import forms
from django.utils.translation import gettext_lazy as _

from campus.models import AuditAction, Role
from campus.selectors import users_by_verified_email


class AddEmailForm(AllauthAddEmailForm):
    """allauth's form to add an address, refusing one that another account has verified
    (allauth accepts it when it hides which addresses have accounts)."""

    def clean_email(self) -> str:
        value = super().clean_email()
        owner = users_by_verified_email(emails=[value]).get(value.lower())
        if owner is not None and owner.pk != self.user.pk:
            raise forms.ValidationError(
                _("This address belongs to another account, so it cannot be added to yours."),
                code="email_taken",
            )
        return value


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name or email"), required=False, max_length=200)


class AuditSearchForm(forms.Form):
    q = forms.CharField(label=_("Person or target"), required=False, max_length=200)
    action = forms.ChoiceField(
        label=_("What"), required=False, choices=[("", _("Every change")), *AuditAction.choices]
    )
