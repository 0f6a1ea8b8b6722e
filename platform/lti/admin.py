"""The LTI tool in the Django admin (superusers): what each LMS registered, the LMS courses,
links and scores it sent us, and our signing keys.

What the protocol relies on is read-only here: an issuer, a client id, a deployment id, a
`sub` or a line item URL changed by hand would silently send launches, accounts or grades
to the wrong place. Revoking a registration and sending a score again go through the same
services as the pages, so they are audited and queued the same way. Private keys are never
shown.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campus.models import User
from lti import grades, registration
from lti.models import (
    Context,
    ContextCohort,
    Deployment,
    PlatformAccount,
    Registration,
    ResourceLink,
    ScorePost,
    ToolKey,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the tool writes from what an LMS sent: shown, searched, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeploymentInline(ReadOnlyInline):
    model = Deployment
    fields = readonly_fields = ("deployment_id", "created_at")


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "organization",
        "issuer",
        "client_id",
        "product",
        "active",
        "deployments_open",
        "created_at",
        "revoked_at",
    ]
    list_filter = ["active", "deployments_open", "product", "organization"]
    search_fields = ["name", "issuer", "client_id", "organization__name"]
    list_select_related = ["organization"]
    # (issuer, client id) names the LMS in every launch and keys its accounts; the
    # endpoints come from the LMS. Only our own switches may change here.
    readonly_fields = [
        "organization",
        "issuer",
        "client_id",
        "auth_login_url",
        "auth_token_url",
        "keyset_url",
        "token_audience",
        "registration_endpoint",
        "product",
        "scopes",
        "active",
        "created_at",
        "revoked_at",
    ]
    fields = ["name", "deployments_open", *readonly_fields]
    inlines = [DeploymentInline]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Registrations come from the LMS (dynamic registration) or a university's page.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would take the LMS's accounts, courses and scores with it: revoke instead.
        return False

    @admin.action(description=_("Revoke the selected registrations"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        actor = request.user
        assert isinstance(actor, User)
        count = 0
        for found in queryset.filter(active=True):
            registration.registration_revoke(actor=actor, registration=found)
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d registration revoked.", "%(n)d registrations revoked.", count)
            % {"n": count},
            messages.SUCCESS,
        )


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["deployment_id", "registration", "created_at"]
    list_filter = ["registration__organization", "registration"]
    search_fields = ["deployment_id", "registration__name", "registration__issuer"]
    list_select_related = ["registration"]


@admin.register(ToolKey)
class ToolKeyAdmin(ReadOnlyAdmin):
    list_display = ["kid", "created_at", "retire_at"]
    search_fields = ["kid"]
    date_hierarchy = "created_at"
    # The private key never reaches a page; keys are made and retired by
    # `manage.py lti_rotate_keys`, and deleting one breaks what it signed.
    exclude = ["private_key_pem"]
    readonly_fields = ["kid", "public_jwk", "created_at", "retire_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PlatformAccount)
class PlatformAccountAdmin(ReadOnlyAdmin):
    """Deleting one unlinks the LMS identity: the next launch makes a new account."""

    list_display = ["sub", "user", "issuer", "registration", "created_at"]
    list_filter = ["registration__organization", "registration"]
    search_fields = ["sub", "issuer", "user__email", "user__name"]
    list_select_related = ["user", "registration"]


class ContextCohortInline(ReadOnlyInline):
    model = ContextCohort
    fields = readonly_fields = ("cohort", "synced_at")


class ResourceLinkInline(ReadOnlyInline):
    model = ResourceLink
    fields = readonly_fields = ("title", "resource_link_id", "exercise", "lesson", "lineitem_url")


@admin.register(Context)
class ContextAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "context_id", "deployment", "created_at"]
    list_filter = ["deployment__registration__organization", "deployment__registration"]
    search_fields = ["title", "context_id", "deployment__deployment_id"]
    list_select_related = ["deployment__registration"]
    inlines = [ContextCohortInline, ResourceLinkInline]


@admin.register(ResourceLink)
class ResourceLinkAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "resource_link_id", "context", "exercise", "lesson", "lineitem_url"]
    list_filter = ["context__deployment__registration"]
    search_fields = ["title", "resource_link_id", "lineitem_url", "context__title"]
    list_select_related = ["context", "exercise", "lesson"]


@admin.register(ScorePost)
class ScorePostAdmin(ReadOnlyAdmin):
    list_display = [
        "link",
        "account",
        "score",
        "max_score",
        "status",
        "attempts",
        "error",
        "sent_at",
        "updated_at",
    ]
    list_filter = ["status", "pending_manual", "link__context__deployment__registration"]
    search_fields = ["account__sub", "account__user__email", "link__title", "error"]
    list_select_related = ["link", "account"]
    date_hierarchy = "updated_at"
    actions = ["resend"]

    @admin.action(description=_("Send the selected scores again"))
    def resend(self, request: HttpRequest, queryset: QuerySet[ScorePost]) -> None:
        posts = list(queryset)
        for post in posts:
            grades.score_resend(score_post=post)
        self.message_user(
            request,
            ngettext(
                "%(n)d score will be sent again.", "%(n)d scores will be sent again.", len(posts)
            )
            % {"n": len(posts)},
            messages.SUCCESS,
        )
