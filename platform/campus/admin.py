from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from campus.models import AuditAction, AuditLog, EmailDomain, Membership, Organization, User
from campus.services import audit_record


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class EmailDomainInline(admin.TabularInline):
    model = EmailDomain
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "created_at"]
    list_filter = ["country"]
    search_fields = ["name", "slug", "email_domains__domain"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [EmailDomainInline, MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "user__name", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    list_select_related = ["user", "organization"]

    def save_model(self, request: Any, obj: Membership, form: Any, change: bool) -> None:
        """Role changes made here are audited like those made on the members page."""
        old_role = Membership.objects.filter(pk=obj.pk).values_list("role", flat=True).first()
        super().save_model(request, obj, form, change)
        if old_role != obj.role:
            audit_record(
                organization=obj.organization,
                actor=request.user,
                action=AuditAction.ROLE_CHANGED if change else AuditAction.MEMBER_JOINED,
                target_type="membership",
                target_id=obj.pk,
                target_label=obj.user.email,
                target_user=obj.user,
                details={"from": old_role, "to": obj.role, "via": "admin"}
                if change
                else {"role": obj.role, "via": "admin"},
            )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: the log is written by services, never edited by hand."""

    list_display = ["created_at", "organization", "actor", "action", "target_label"]
    list_filter = ["action", "organization"]
    search_fields = ["target_label", "actor__email", "target_user__email"]
    list_select_related = ["organization", "actor"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
