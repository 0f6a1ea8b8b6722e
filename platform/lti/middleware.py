"""Pages of a person who came through an LTI launch live in the LMS's iframe, where we are
a third party: their session and CSRF cookies must be SameSite=None, Secure and Partitioned
(CHIPS) to be kept, and the pages must be framable.

Listed before SessionMiddleware, so that its response phase runs after the session, CSRF
and X-Frame-Options middlewares have set their cookies and header.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from lti.cookies import partition

LTI_SESSION = "lti"


class LtiFrameMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.get(LTI_SESSION):
            # Any LMS page may frame a launched session: Canvas frames from each school's
            # host, not from its issuer's, so no list of origins would be right.
            if "X-Frame-Options" in response:
                del response["X-Frame-Options"]
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                partition(response, name)
        return response
