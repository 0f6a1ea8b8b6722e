"""Mounted under accounts/ before allauth's own URLs: the OpenID Connect paths replace
allauth's views of the same names (its adapter would skip the id_token signature check), and
logout and the SAML single logout service add single logout to allauth's."""

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
    # allauth's names, our views: single logout (campus/sso/logout.py).
    path("logout/", views.logout_view, name="account_logout"),
    path("saml/<str:organization_slug>/sls/", views.saml_sls_view, name="saml_sls"),
    path("logged-out/", views.logged_out_view, name="sso_logged_out"),
    path("university/", views.university_search_view, name="sso_university_search"),
    path(
        "university/search.json",
        views.university_search_json_view,
        name="sso_university_search_json",
    ),
]
