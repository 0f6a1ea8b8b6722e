from django.urls import include, path

from courses import views, views_submissions

app_name = "courses"

urlpatterns = [
    path("", views.my_courses_view, name="my_courses"),
    path("teach/", include("courses.views_teach.urls")),
    path(
        "submissions/<int:submission_id>/",
        views_submissions.submission_status_view,
        name="submission_status",
    ),
    path(
        "submissions/<int:submission_id>/events",
        views_submissions.submission_events_view,
        name="submission_events",
    ),
    path("<slug:org_slug>/<slug:course_slug>/", views.course_outline_view, name="outline"),
    path(
        "<slug:org_slug>/<slug:course_slug>/lessons/<slug:lesson_slug>/",
        views.lesson_view,
        name="lesson",
    ),
    path(
        "<slug:org_slug>/<slug:course_slug>/exercises/<slug:exercise_slug>/submit",
        views_submissions.submit_view,
        name="submit",
    ),
]
