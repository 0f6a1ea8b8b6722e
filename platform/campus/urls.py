from django.urls import path

from campus import views

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
]
