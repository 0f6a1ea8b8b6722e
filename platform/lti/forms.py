from django import forms
from django.utils.translation import gettext_lazy as _


class DeploymentForm(forms.Form):
    deployment_id = forms.CharField(label=_("Deployment id"), max_length=300)
