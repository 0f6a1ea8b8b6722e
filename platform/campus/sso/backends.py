"""An authentication backend that refuses passwords for the people of an SSO-only
university, whatever form asks (the login page, the admin's login, an API). First in
AUTHENTICATION_BACKENDS: PermissionDenied stops Django from asking the others."""

from typing import Any

from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from campus.sso.selectors import sso_only_idp_for_email


class SsoOnlyBackend(BaseBackend):
    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        email = credentials.get("email") or credentials.get("username") or ""
        if (
            "password" in credentials
            and isinstance(email, str)
            and sso_only_idp_for_email(email=email.strip())
        ):
            raise PermissionDenied("This university signs its people in itself")
        return None

    def get_user(self, user_id: Any) -> Any:
        # force_login() records the first backend: sessions made so must still resolve.
        return ModelBackend().get_user(user_id)
