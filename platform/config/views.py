"""Operational endpoints, and the admin's way in."""

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlencode

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from kombu.exceptions import KombuError

from config.celery import ping
from gateway.process import socket_path


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
    try:
        result = ping.apply_async(queue="default", expires=settings.HEALTH_CELERY_TIMEOUT_S)
        try:
            answer = result.get(timeout=settings.HEALTH_CELERY_TIMEOUT_S)
        finally:
            result.forget()
    except (RuntimeError, redis.RedisError, KombuError):
        _drop_result_backend()
        raise
    return {"ok": answer == "pong", "round_trip_ms": round((time.monotonic() - started) * 1000, 1)}


class _UnixHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(socket_path()))


def _check_gateway() -> dict[str, object]:
    # The model gateway, on the socket the sandboxes use.
    connection = _UnixHTTPConnection("gateway", timeout=2)
    try:
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
    finally:
        connection.close()
    return {"ok": status == 200}


# What the web needs (a load balancer takes a web process out when one fails), and what it
# only reports (the model gateway: runs that call a model say so themselves).
def _drop_result_backend() -> None:
    # Once Redis has restarted, Celery's Redis result consumer gives up for good ("The
    # Celery application must be restarted"): this process builds a new one next time.
    app: Any = ping.app
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


CHECKS = {"database": _check_database, "redis": _check_redis, "celery": _check_celery}


def _check_services() -> dict[str, object]:
    # What `make run` supervises (config.launch writes it); absent elsewhere.
    path = settings.VAR_DIR / "services.json"
    if not path.exists():
        return {"ok": True, "supervised": False}
    states = json.loads(path.read_text())
    return {"ok": all(s["state"] == "running" for s in states.values()), "services": states}


REPORTED = {"gateway": _check_gateway, "services": _check_services}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Status of each service; HTTP 503 when one the web needs is down."""
    report: dict[str, dict[str, object]] = {}
    for name, check in (CHECKS | REPORTED).items():
        try:
            report[name] = check()
        except Exception as exc:
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    healthy = all(report[name]["ok"] for name in CHECKS)
    return JsonResponse({"ok": healthy, **report}, status=200 if healthy else 503)


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """Replaces Django admin's own login form, which has no rate limit: staff sign in through
    allauth's form (rate-limited, email verification enforced), then come back here. A POST
    of a password to this address is never checked."""
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("admin:index")
    if not request.user.is_authenticated:
        return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")
    if request.user.is_active and request.user.is_staff:
        return redirect(target)
    raise PermissionDenied
