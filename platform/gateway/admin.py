from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gateway.models import ApiToken, ModelCard, Usage


@admin.register(ModelCard)
class ModelCardAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "backend", "license", "openness_label", "active", "all_courses"]
    list_filter = ["kind", "backend", "active", "all_courses", "weights_open", "training_data_open"]
    search_fields = ["name", "display_name", "license"]
    filter_horizontal = ["courses"]

    @admin.display(description=_("openness"))
    def openness_label(self, card: ModelCard) -> str:
        return card.get_openness_display()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "user__email", "prefix"]
    list_select_related = ["user"]
    # The digest is useless to a person and tokens are created by their owner only.
    exclude = ["digest"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin):
    list_display = [
        "day",
        "user",
        "course",
        "model",
        "requests",
        "prompt_tokens",
        "completion_tokens",
    ]
    list_filter = ["day", "model"]
    search_fields = ["user__email"]
    list_select_related = ["user", "course", "model"]
    date_hierarchy = "day"

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
