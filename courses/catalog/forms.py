"""Forms of the authoring pages: courses, modules, lessons. Labels and help are translatable."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import GradeRule, Language


class CourseForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("Summary"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    grade_rule = forms.ChoiceField(
        label=_("Grade that counts"),
        choices=GradeRule.choices,
        initial=GradeRule.BEST,
        help_text=_(
            "With several attempts, the one kept in the gradebook and sent to the LMS "
            "gradebook, after late penalty and marking by hand."
        ),
    )


class NewCourseForm(CourseForm):
    organization = forms.ChoiceField(label=_("University"))
    grade_rule = None  # type: ignore[assignment]  # the default (best); set in the settings

    def __init__(self, *args: Any, organizations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = organizations  # type: ignore[attr-defined]


class TitleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)


class LessonForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Lesson text (Markdown)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "class": "markdown-source"}),
        help_text=_(
            "Markdown with $math$ and fenced code blocks. The preview updates as you type."
        ),
    )


class CourseImportForm(forms.Form):
    organization = forms.ChoiceField(label=_("University"))
    file = forms.FileField(
        label=_("Course folder (zip)"),
        help_text=_(
            "A zip of course.yaml, lessons/*.md and exercises/*.ipynb, as the Download button "
            "makes it. A course with the same slug in the university is updated in place."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )

    def __init__(self, *args: Any, organizations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = organizations  # type: ignore[attr-defined]
