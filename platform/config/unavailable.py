"""A service behind a page is down (Redis, the broker) or every database connection is
busy: 503 with a clear message and Retry-After, in the site's layout (or as JSON for the
JSON endpoints), never a 500.

Pages that do not need the service keep working; only the request that met the error is
answered this way, and nothing it was doing is half-saved (views write in transactions).
"""

import logging
import sqlite3
import sys
from collections.abc import Callable

import redis
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error
from kombu.exceptions import KombuError
from psycopg_pool import PoolTimeout

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


def _is_database_busy(error: BaseException | None) -> bool:
    """Every pooled PostgreSQL connection stayed busy, or SQLite's write lock stayed taken
    past its busy timeout (a burst of writers on a loaded host). Django wraps both in its
    own OperationalError: walk the chain."""
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        if isinstance(error, sqlite3.OperationalError) and "database is locked" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 with Retry-After when the database stayed busy (every connection of
    this process's pool for DATABASE_POOL_TIMEOUT_S, or SQLite's write lock): a load peak,
    not a bug; Django's 500 otherwise.

    Django calls it while handling the exception, so sys.exc_info() holds it. The busy page
    is rendered without the request's context: reading the session or the user would wait
    for a connection again.
    """
    if not _is_database_busy(sys.exc_info()[1]):
        return django_server_error(request)
    message = _("The platform is busy right now. Nothing was lost: try again in a few seconds.")
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse({"error": message, "retry_after_s": RETRY_AFTER_S}, status=503)
    else:
        html = render_to_string("503.html", {"message": message, "user": AnonymousUser()})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response
