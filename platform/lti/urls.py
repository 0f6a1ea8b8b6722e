"""The tool's URLs under /lti/ (what platforms call), and the university admins' LTI page
(`university_patterns`, included under /universities/<org>/lti/ by config.urls)."""

from django.urls import URLPattern, path

from lti.views import launch, pages, staff, university

app_name = "lti"
COURSE = "teach/<slug:org_slug>/<slug:course_slug>/"

urlpatterns = [
    path("jwks.json", launch.jwks_view, name="jwks"),
    path("login/", launch.login_view, name="login"),
    path("launch/", launch.launch_view, name="launch"),
    path("register/<str:token>/", university.register_view, name="register"),
    path("deep-link/", pages.deep_link_view, name="deep_link"),
    path("session/", launch.session_view, name="session"),
    path("resume/<str:token>/", launch.resume_view, name="resume"),
    path("link/", pages.link_view, name="link"),
    path(COURSE + "scores/", staff.scores_view, name="scores"),
    path(COURSE + "scores/<int:pk>/resend/", staff.score_resend_view, name="score_resend"),
    path(COURSE + "roster/<int:context_id>/sync/", staff.roster_sync_view, name="roster_sync"),
]

university_patterns: list[URLPattern] = [
    path("", university.university_view, name="home"),
    path("<int:pk>/revoke/", university.revoke_view, name="revoke"),
    path("<int:pk>/deployments/", university.deployment_add_view, name="deployment_add"),
]
