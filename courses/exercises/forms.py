"""Forms of the exercise pages: upload, settings, per-cohort settings, extensions."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import LatePolicy

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def _check_notebook_size(upload: Any) -> Any:
    if upload is not None and upload.size > MAX_NOTEBOOK_BYTES:
        raise forms.ValidationError(_("This notebook is larger than 20 MB."))
    return upload


class ExerciseUploadForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    notebook = forms.FileField(
        label=_("Instructor notebook (.ipynb)"),
        help_text=_("An nbgrader or otter-grader notebook, solutions and hidden tests included."),
    )

    def clean_notebook(self) -> Any:
        return _check_notebook_size(self.cleaned_data.get("notebook"))


class NotebookForm(forms.Form):
    notebook = forms.FileField(label=_("New version of the notebook (.ipynb)"))

    def clean_notebook(self) -> Any:
        return _check_notebook_size(self.cleaned_data.get("notebook"))


class ExerciseSettingsForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    due_at = forms.DateTimeField(label=_("Due date"), required=False, widget=DATETIME)
    hard_deadline = forms.DateTimeField(
        label=_("Hard deadline"),
        required=False,
        widget=DATETIME,
        help_text=_("No submission is accepted after this time."),
    )
    late_policy = forms.ChoiceField(label=_("Late policy"), choices=LatePolicy.choices)
    late_penalty_percent_per_day = forms.DecimalField(
        label=_("Late penalty (% per day)"),
        min_value=0,
        max_value=100,
        decimal_places=2,
        initial=0,
    )
    max_attempts = forms.IntegerField(
        label=_("Attempt limit"),
        min_value=1,
        required=False,
        help_text=_("Empty means unlimited."),
    )


class CohortSettingsForm(ExerciseSettingsForm):
    """The same settings for one cohort; every field may be left empty (= the exercise's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["title"]
        self.fields["late_policy"] = forms.ChoiceField(
            label=_("Late policy"),
            required=False,
            choices=[("", _("As the exercise")), *LatePolicy.choices],
        )
        self.fields["late_penalty_percent_per_day"].required = False


class ExtensionForm(forms.Form):
    learner = forms.EmailField(label=_("Learner's e-mail"))
    due_at = forms.DateTimeField(label=_("New due date"), widget=DATETIME)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
