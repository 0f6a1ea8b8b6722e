"""The course's extra packages: one `name==version` pin a line, checked line by line."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import MAX_PINS, parse_pins


class RequirementsForm(forms.Form):
    requirements = forms.CharField(
        label=gettext_lazy("Extra packages"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}),
        help_text=gettext_lazy(
            "One exact pin a line, such as tabulate==0.9.0, on top of the packages every "
            "course has (numpy, scipy, sympy, pandas, matplotlib, scikit-learn...). Leave "
            "empty for those alone."
        ),
    )

    def clean_requirements(self) -> str:
        text: str = self.cleaned_data["requirements"]
        pins, errors = parse_pins(text)
        messages = []
        for error in errors:
            if error.problem == "duplicate":
                messages.append(
                    _("Line %(line)d: “%(text)s” names a package pinned above.")
                    % {"line": error.line, "text": error.text}
                )
            elif error.problem == "too_many":
                messages.append(_("At most %(count)d packages.") % {"count": MAX_PINS})
            else:
                message = _(
                    "Line %(line)d: “%(text)s” is not an exact pin: write name==version, "
                    "for example tabulate==0.9.0."
                )
                messages.append(message % {"line": error.line, "text": error.text})
        if messages:
            raise forms.ValidationError(messages)
        return "\n".join(pins)
