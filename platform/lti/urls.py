"""The tool's URLs under /lti/ (what platforms call), and the university admins' LTI page
(`university_patterns`, included under /universities/<org>/lti/ by config.urls)."""

from django.urls import URLPattern, path

from lti import views

app_name = "lti"
COURSE = "teach/<slug:org_slug>/<slug:course_slug>/"

urlpatterns = [
    path("jwks.json", views.jwks_view, name="jwks"),
    path("login/", views.login_view, name="login"),
    path("launch/", views.launch_view, name="launch"),
    path("register/<str:token>/", views.register_view, name="register"),
    path("deep-link/", views.deep_link_view, name="deep_link"),
    path("session/", views.session_view, name="session"),
    path("resume/<str:token>/", views.resume_view, name="resume"),
    path("link/", views.link_view, name="link"),
    path(COURSE + "scores/", views.scores_view, name="scores"),
    path(COURSE + "scores/<int:pk>/resend/", views.score_resend_view, name="score_resend"),
    path(COURSE + "roster/<int:context_id>/sync/", views.roster_sync_view, name="roster_sync"),
]

university_patterns: list[URLPattern] = [
    path("", views.university_view, name="home"),
    path("<int:pk>/revoke/", views.revoke_view, name="revoke"),
    path("<int:pk>/deployments/", views.deployment_add_view, name="deployment_add"),
]
