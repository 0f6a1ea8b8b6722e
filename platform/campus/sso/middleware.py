"""MFA for those who can change what others see: when MFA_REQUIRED_FOR_STAFF is on,
instructors, TAs, university admins, staff and superusers without a second factor are sent
to set one up before anything else."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from campus.sso.selectors import has_mfa, requires_mfa

# Pages that must stay reachable while setting up (and leaving).
_OPEN_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/logout/",
    "/accounts/reauthenticate/",
    "/i18n/",
    "/static/",
)
SESSION_KEY = "campus_mfa_ok"


def mfa_required_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if settings.MFA_REQUIRED_FOR_STAFF and _must_set_up(request):
            messages.warning(
                request,
                _(
                    "Your role requires a second factor. Set up an authenticator app or a "
                    "security key to continue."
                ),
            )
            return redirect("mfa_index")
        return get_response(request)

    return middleware


def _must_set_up(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated or request.path.startswith(_OPEN_PREFIXES):
        return False
    if request.session.get(SESSION_KEY):
        return False
    if not requires_mfa(user=user):
        return False
    if has_mfa(user=user):
        request.session[SESSION_KEY] = True
        return False
    return True
