from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("campus.sso.urls")),
    path("accounts/", include("allauth.urls")),
    path("universities/", include("campus.urls")),
    path("", include("courses.urls")),
    path("models/", include("gateway.urls")),
    path("", RedirectView.as_view(pattern_name="courses:my_courses"), name="home"),
]

handler500 = "config.views.server_error"
