"""Operational endpoints, and the answer when the database has no connection to spare."""

import sys
import time

import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.defaults import server_error as django_server_error
from psycopg_pool import PoolTimeout

from config.celery import ping


def _check_database() -> dict[str, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _check_redis() -> dict[str, object]:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {"ok": True}


def _check_celery() -> dict[str, object]:
    # A real task through the broker to a worker and back, not just a broker ping.
    started = time.monotonic()
    result = ping.apply_async(queue="default", expires=settings.HEALTH_CELERY_TIMEOUT_S)
    try:
        answer = result.get(timeout=settings.HEALTH_CELERY_TIMEOUT_S)
    finally:
        result.forget()
    return {"ok": answer == "pong", "round_trip_ms": round((time.monotonic() - started) * 1000, 1)}


CHECKS = {"database": _check_database, "redis": _check_redis, "celery": _check_celery}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Status of each service; HTTP 503 when any is down."""
    report: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception as exc:
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    healthy = all(item["ok"] for item in report.values())
    return JsonResponse({"ok": healthy, **report}, status=200 if healthy else 503)


BUSY_RETRY_AFTER_S = 5


def _is_pool_timeout(error: BaseException | None) -> bool:
    # Django wraps the pool's PoolTimeout in its own OperationalError: walk the chain.
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 with Retry-After when every database connection of this process
    stayed busy for DATABASE_POOL_TIMEOUT_S (a load peak, not a bug); Django's 500 otherwise.

    Django calls it while handling the exception, so sys.exc_info() holds it. The busy page
    is rendered without the request's context: reading the session or the user would wait
    for a connection again.
    """
    if not _is_pool_timeout(sys.exc_info()[1]):
        return django_server_error(request)
    message = _("The platform is busy right now. Nothing was lost: try again in a few seconds.")
    response: HttpResponse
    if "text/html" in request.headers.get("Accept", ""):
        html = render_to_string("503.html", {"busy": message, "user": AnonymousUser()})
        response = HttpResponse(html, status=503)
    else:
        response = JsonResponse({"error": message}, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response
