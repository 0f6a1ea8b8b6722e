from django import forms
from django.utils.translation import gettext_lazy as _

from campus.models import Role


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name or email"), required=False, max_length=200)
