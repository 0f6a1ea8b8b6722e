"""Forms of the cohort pages: a cohort's settings and quotas, CSV enrollment, a role."""

from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.cohorts.services import CohortSettings
from courses.models import EnrollmentRole


def time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(available_timezones())]


class CohortForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    starts_on = forms.DateField(
        label=_("Starts on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=_("Ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("After this day, the invite link no longer enrolls anyone."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        initial="UTC",
        help_text=_("Due dates are shown, and daily quotas reset, in this time zone."),
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        required=False,
        min_value=1,
        help_text=_("Most learners (students) the cohort takes. Empty means no limit."),
    )
    cpu_seconds_per_day = forms.IntegerField(
        label=_("Sandbox CPU-seconds per learner per day"),
        required=False,
        min_value=0,
        help_text=_("Empty means no limit."),
    )
    model_tokens_per_day = forms.IntegerField(
        label=_("Model tokens per learner per day"),
        required=False,
        min_value=0,
        help_text=_("Empty means no limit."),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The cohort cannot end before it starts."))
        return data

    def to_settings(self) -> CohortSettings:
        return CohortSettings(**{name: self.cleaned_data[name] for name in self.fields})


class EnrollmentCsvForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "One person per line. First line: email,name,role. The role is student, ta or "
            "instructor (student when empty)."
        ),
    )


class EnrollmentRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role in the cohort"), choices=EnrollmentRole.choices)
