from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config import views
from lti.urls import university_patterns as lti_university_patterns

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("campus.sso.urls")),
    path("accounts/", include("allauth.urls")),
    path(
        "universities/<slug:org_slug>/lti/",
        include((lti_university_patterns, "lti_university")),
    ),
    path("universities/", include("campus.urls")),
    path("", include("courses.urls")),
    path("models/", include("gateway.urls")),
    path("lti/", include("lti.urls")),
    path("", RedirectView.as_view(pattern_name="courses:my_courses"), name="home"),
]

handler500 = "config.unavailable.server_error"
