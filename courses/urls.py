from django.urls import include, path

from courses import views, views_learn, views_submissions

app_name = "courses"

# The exercise page and what it calls (views_learn).
exercise_patterns = [
    path("", views_learn.exercise_view, name="exercise"),
    path("draft", views_learn.draft_view, name="draft"),
    path("kernel/run", views_learn.kernel_run_view, name="kernel_run"),
    path("kernel/interrupt", views_learn.kernel_interrupt_view, name="kernel_interrupt"),
    path("kernel/restart", views_learn.kernel_restart_view, name="kernel_restart"),
    path("kernel/events", views_learn.kernel_events_view, name="kernel_events"),
    path("submissions", views_learn.history_view, name="history"),
]

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
    path(
        "submissions/<int:submission_id>/notebook.ipynb",
        views_learn.graded_notebook_view,
        name="graded_notebook",
    ),
    path(
        "submissions/<int:submission_id>/feedback",
        views_learn.feedback_view,
        name="feedback",
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
    path(
        "<slug:org_slug>/<slug:course_slug>/exercises/<slug:exercise_slug>/",
        include(exercise_patterns),
    ),
]
