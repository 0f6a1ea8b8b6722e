from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampusConfig(AppConfig):
    name = "campus"
    verbose_name = _("Campus")

    def ready(self) -> None:
        from campus import signals  # noqa: F401  (connects the allauth handlers)
