"""Cohort management and invite links. Included at the root (config/urls.py) before the
course pages, so these paths win over the course URL patterns."""

from django.urls import path

from courses import views_cohorts as views
from courses import views_people

app_name = "cohorts"

COURSE = "courses/<slug:org_slug>/<slug:course_slug>/cohorts/"

urlpatterns = [
    path("join/<str:code>/", views.join_view, name="join"),
    path(
        "universities/<slug:org_slug>/courses/",
        views.university_courses_view,
        name="university_courses",
    ),
    path(COURSE, views.cohort_list_view, name="list"),
    path(COURSE + "new/", views.cohort_create_view, name="create"),
    path(COURSE + "<int:cohort_id>/", views.cohort_edit_view, name="edit"),
    path(COURSE + "<int:cohort_id>/code/", views.cohort_code_view, name="regenerate_code"),
    path(COURSE + "<int:cohort_id>/enroll/", views.cohort_import_view, name="import"),
    path(COURSE + "<int:cohort_id>/people/", views_people.cohort_people_view, name="people"),
    path(
        COURSE + "<int:cohort_id>/people/<int:enrollment_id>/role/",
        views_people.enrollment_role_view,
        name="enrollment_role",
    ),
    path(
        COURSE + "<int:cohort_id>/people/<int:enrollment_id>/remove/",
        views_people.enrollment_remove_view,
        name="enrollment_remove",
    ),
]
