"""Mounted under accounts/ before allauth's own URLs: the OpenID Connect paths replace
allauth's views of the same names (its adapter would skip the id_token signature check)."""

from allauth.socialaccount import app_settings
from django.urls import path

from campus.sso import views

_OIDC = f"{app_settings.OPENID_CONNECT_URL_PREFIX}/".lstrip("/")

urlpatterns = [
    path(f"{_OIDC}<str:provider_id>/login/", views.oidc_login_view, name="openid_connect_login"),
    path(
        f"{_OIDC}<str:provider_id>/login/callback/",
        views.oidc_callback_view,
        name="openid_connect_callback",
    ),
    path("university/", views.university_search_view, name="sso_university_search"),
    path(
        "university/search.json",
        views.university_search_json_view,
        name="sso_university_search_json",
    ),
]
