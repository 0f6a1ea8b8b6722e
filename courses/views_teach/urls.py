"""URLs of the teaching pages, included by courses.urls under /courses/teach/."""

from django.urls import path

from courses.views_teach import authoring, exercises, grading, ops

app_name = "teach"

COURSE = "<slug:org_slug>/<slug:course_slug>/"

urlpatterns = [
    path("", authoring.teach_home_view, name="home"),
    path("new", authoring.course_create_view, name="course_create"),
    path("operations/", ops.operations_view, name="operations"),
    path(COURSE, authoring.course_edit_view, name="course"),
    path(COURSE + "publish", authoring.course_publish_view, name="publish"),
    path(COURSE + "preview/", authoring.preview_course_view, name="preview_course"),
    path(COURSE + "markdown-preview", authoring.markdown_preview_view, name="markdown_preview"),
    path(COURSE + "modules/new", authoring.module_create_view, name="module_create"),
    path(COURSE + "modules/<int:module_id>/", authoring.module_edit_view, name="module"),
    path(COURSE + "modules/<int:module_id>/order", authoring.item_move_view, name="item_order"),
    path(
        COURSE + "modules/<int:module_id>/lessons/new",
        authoring.lesson_create_view,
        name="lesson_create",
    ),
    path(
        COURSE + "modules/<int:module_id>/exercises/new",
        exercises.exercise_upload_view,
        name="exercise_upload",
    ),
    path(COURSE + "lessons/<int:lesson_id>/", authoring.lesson_edit_view, name="lesson"),
    path(COURSE + "exercises/<int:exercise_id>/", exercises.exercise_view, name="exercise"),
    path(
        COURSE + "exercises/<int:exercise_id>/preview",
        authoring.preview_exercise_view,
        name="preview_exercise",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/notebook",
        exercises.exercise_notebook_view,
        name="exercise_notebook",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/validate",
        exercises.exercise_validate_view,
        name="exercise_validate",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/cohorts/<int:cohort_id>",
        exercises.cohort_settings_view,
        name="cohort_settings",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/extensions",
        exercises.extension_view,
        name="extension",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/regrade",
        exercises.exercise_regrade_view,
        name="exercise_regrade",
    ),
    path(COURSE + "gradebook/", grading.gradebook_view, name="gradebook"),
    path(
        COURSE + "gradebook/<int:cohort_id>.csv", grading.gradebook_csv_view, name="gradebook_csv"
    ),
    path(COURSE + "analytics/", grading.analytics_view, name="analytics"),
    path(COURSE + "submissions/<int:submission_id>/", grading.submission_view, name="submission"),
    path(
        COURSE + "submissions/<int:submission_id>/grade",
        grading.manual_grade_view,
        name="manual_grade",
    ),
    path(
        COURSE + "submissions/<int:submission_id>/regrade",
        grading.submission_regrade_view,
        name="submission_regrade",
    ),
]
