"""The URLs of courses, one list per package, under two namespaces that the pages name:
`courses` (under /courses/, with `courses:teach` for course staff) and `cohorts` (invite
links and cohort management, at the root). config/urls.py includes this module at the root.
"""

from django.urls import URLPattern, URLResolver, include, path

from courses.catalog import views as catalog
from courses.cohorts import views as cohorts
from courses.environments import views as environments
from courses.exercises import views as exercises
from courses.grading.views import operations, staff, submissions
from courses.learn import views as learn

COURSE = "<slug:org_slug>/<slug:course_slug>/"

# The exercise page and what it calls.
exercise_patterns: list[URLPattern | URLResolver] = [
    path("", learn.exercise_view, name="exercise"),
    path("draft", learn.draft_view, name="draft"),
    path("written-preview", learn.written_preview_view, name="written_preview"),
    path("kernel/run", learn.kernel_run_view, name="kernel_run"),
    path("kernel/interrupt", learn.kernel_interrupt_view, name="kernel_interrupt"),
    path("kernel/restart", learn.kernel_restart_view, name="kernel_restart"),
    path("kernel/events", learn.kernel_events_view, name="kernel_events"),
    path("submissions", learn.history_view, name="history"),
]

# Course staff's pages, under /courses/teach/ (namespace courses:teach).
teach_patterns: list[URLPattern | URLResolver] = [
    path("", catalog.teach_home_view, name="home"),
    path("new", catalog.course_create_view, name="course_create"),
    path("import", catalog.course_import_view, name="course_import"),
    path("operations/", operations.operations_view, name="operations"),
    path("operations/workers", operations.operations_workers_view, name="operations_workers"),
    path(COURSE, catalog.course_edit_view, name="course"),
    path(COURSE + "publish", catalog.course_publish_view, name="publish"),
    path(COURSE + "environment", environments.environment_edit_view, name="environment"),
    path(
        COURSE + "environment/status",
        environments.environment_status_view,
        name="environment_status",
    ),
    path(COURSE + "export.zip", catalog.course_export_view, name="course_export"),
    path(COURSE + "preview/", catalog.preview_course_view, name="preview_course"),
    path(COURSE + "markdown-preview", catalog.markdown_preview_view, name="markdown_preview"),
    path(COURSE + "modules/new", catalog.module_create_view, name="module_create"),
    path(COURSE + "modules/<int:module_id>/", catalog.module_edit_view, name="module"),
    path(COURSE + "modules/<int:module_id>/order", catalog.item_move_view, name="item_order"),
    path(
        COURSE + "modules/<int:module_id>/lessons/new",
        catalog.lesson_create_view,
        name="lesson_create",
    ),
    path(
        COURSE + "modules/<int:module_id>/exercises/new",
        exercises.exercise_upload_view,
        name="exercise_upload",
    ),
    path(COURSE + "lessons/<int:lesson_id>/", catalog.lesson_edit_view, name="lesson"),
    path(COURSE + "exercises/<int:exercise_id>/", exercises.exercise_view, name="exercise"),
    path(
        COURSE + "exercises/<int:exercise_id>/preview",
        catalog.preview_exercise_view,
        name="preview_exercise",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/notebook",
        exercises.exercise_notebook_view,
        name="exercise_notebook",
    ),
    path(
        COURSE + "exercises/<int:exercise_id>/validate",
        staff.exercise_validate_view,
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
        staff.exercise_regrade_view,
        name="exercise_regrade",
    ),
    path(COURSE + "gradebook/", staff.gradebook_view, name="gradebook"),
    path(COURSE + "gradebook/<int:cohort_id>.csv", staff.gradebook_csv_view, name="gradebook_csv"),
    path(COURSE + "analytics/", staff.analytics_view, name="analytics"),
    path(COURSE + "submissions/<int:submission_id>/", staff.submission_view, name="submission"),
    path(
        COURSE + "submissions/<int:submission_id>/grade",
        staff.manual_grade_view,
        name="manual_grade",
    ),
    path(
        COURSE + "submissions/<int:submission_id>/regrade",
        staff.submission_regrade_view,
        name="submission_regrade",
    ),
]

# The learner's pages and the submission API, under /courses/ (namespace courses).
course_patterns: list[URLPattern | URLResolver] = [
    path("", learn.my_courses_view, name="my_courses"),
    path("teach/", include((teach_patterns, "teach"))),
    path(
        "submissions/<int:submission_id>/",
        submissions.submission_status_view,
        name="submission_status",
    ),
    path(
        "submissions/<int:submission_id>/events",
        submissions.submission_events_view,
        name="submission_events",
    ),
    path(
        "submissions/<int:submission_id>/notebook.ipynb",
        submissions.graded_notebook_view,
        name="graded_notebook",
    ),
    path("submissions/<int:submission_id>/feedback", submissions.feedback_view, name="feedback"),
    path(COURSE, learn.course_outline_view, name="outline"),
    path(COURSE + "lessons/<slug:lesson_slug>/", learn.lesson_view, name="lesson"),
    path(COURSE + "exercises/<slug:exercise_slug>/submit", submissions.submit_view, name="submit"),
    path(COURSE + "exercises/<slug:exercise_slug>/", include(exercise_patterns)),
]

# Cohort management and invite links, at the root (namespace cohorts).
COHORTS = "courses/" + COURSE + "cohorts/"
cohort_patterns: list[URLPattern | URLResolver] = [
    path("join/<str:code>/", cohorts.join_view, name="join"),
    path(
        "universities/<slug:org_slug>/courses/",
        cohorts.university_courses_view,
        name="university_courses",
    ),
    path(COHORTS, cohorts.cohort_list_view, name="list"),
    path(COHORTS + "new/", cohorts.cohort_create_view, name="create"),
    path(COHORTS + "<int:cohort_id>/", cohorts.cohort_edit_view, name="edit"),
    path(COHORTS + "<int:cohort_id>/code/", cohorts.cohort_code_view, name="regenerate_code"),
    path(COHORTS + "<int:cohort_id>/enroll/", cohorts.cohort_import_view, name="import"),
    path(COHORTS + "<int:cohort_id>/people/", cohorts.cohort_people_view, name="people"),
    path(
        COHORTS + "<int:cohort_id>/people/<int:enrollment_id>/role/",
        cohorts.enrollment_role_view,
        name="enrollment_role",
    ),
    path(
        COHORTS + "<int:cohort_id>/people/<int:enrollment_id>/remove/",
        cohorts.enrollment_remove_view,
        name="enrollment_remove",
    ),
]

# Cohort paths first: they win over the course pages' patterns.
urlpatterns = [
    path("", include((cohort_patterns, "cohorts"))),
    path("courses/", include((course_patterns, "courses"))),
]
