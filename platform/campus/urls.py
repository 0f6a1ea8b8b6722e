from django.urls import path

from campus import views
from campus.sso import views as sso_views

app_name = "campus"

urlpatterns = [
    path("", views.universities_view, name="universities"),
    path("<slug:org_slug>/members/", views.members_view, name="members"),
    path(
        "<slug:org_slug>/members/<int:membership_id>/role/",
        views.member_role_view,
        name="member_role",
    ),
    path("<slug:org_slug>/audit/", views.audit_log_view, name="audit_log"),
    path("<slug:org_slug>/sign-in/", sso_views.idp_settings_view, name="sign_in"),
    path("<slug:org_slug>/sign-in/saml/", sso_views.idp_saml_view, name="sign_in_saml"),
    path("<slug:org_slug>/sign-in/oidc/", sso_views.idp_oidc_view, name="sign_in_oidc"),
    path(
        "<slug:org_slug>/sign-in/<int:idp_id>/options/",
        sso_views.idp_options_view,
        name="sign_in_options",
    ),
    path(
        "<slug:org_slug>/sign-in/<int:idp_id>/remove/",
        sso_views.idp_remove_view,
        name="sign_in_remove",
    ),
]
