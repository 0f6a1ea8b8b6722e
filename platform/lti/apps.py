from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = _("LTI 1.3 tool")

    def ready(self) -> None:
        from lti import signals  # noqa: F401  (sends grades to the LMS after grading)
