"""Forms of the grading pages: marking by hand, the gradebook's filters."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ManualGradeForm(forms.Form):
    grade_id = forms.CharField(widget=forms.HiddenInput)
    points = forms.DecimalField(label=_("Points"), min_value=0, decimal_places=2)
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class GradebookFilterForm(forms.Form):
    q = forms.CharField(label=_("Search learners"), required=False)
    late = forms.BooleanField(label=_("Only learners with late work"), required=False)
    missing = forms.BooleanField(label=_("Only learners with missing work"), required=False)
    exercise = forms.TypedChoiceField(
        label=_("Exercise"), required=False, coerce=int, empty_value=None
    )
