from django import forms
from django.utils.translation import gettext_lazy as _

from campus.models import AuditAction, Role


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name or email"), required=False, max_length=200)


class AuditSearchForm(forms.Form):
    q = forms.CharField(label=_("Person or target"), required=False, max_length=200)
    action = forms.ChoiceField(
        label=_("What"), required=False, choices=[("", _("Every change")), *AuditAction.choices]
    )
