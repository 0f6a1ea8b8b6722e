"""A service behind a page is down (Redis, the broker): 503 with a clear message and
Retry-After, in the site's layout (or as JSON for the JSON endpoints), never a 500.

Pages that do not need the service keep working; only the request that met the error is
answered this way, and nothing it was doing is half-saved (views write in transactions).
"""

import logging
from collections.abc import Callable

import redis
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
UNAVAILABLE = (redis.RedisError, KombuError)


def unavailable_message() -> str:
    return _("A platform service is restarting. Nothing was lost: try again in a moment.")


def wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "Accept", ""
    )


def unavailable_response(request: HttpRequest) -> HttpResponse:
    message = unavailable_message()
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse({"error": message, "retry_after_s": RETRY_AFTER_S}, status=503)
    else:
        response = render(request, "503.html", {"message": message}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        log.warning("%s %s: service unavailable: %s", request.method, request.path, exception)
        return unavailable_response(request)
