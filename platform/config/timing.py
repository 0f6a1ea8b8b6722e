"""Web latency per route, recorded for the operations page."""

import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from courses.grading.operations import web_request_record


def _route(request: HttpRequest) -> str | None:
    match = request.resolver_match
    if match is None:  # static files, 404s: not a route of ours
        return None
    return match.view_name or match.route


class RouteTimingMiddleware:
    """Times each request by route (its URL name) for the operations page's p50/p95.

    Sync and async both, so an async view (Server-Sent Events) keeps its thread-free path.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._record(request, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = await self.get_response(request)
        self._record(request, started)
        return response

    @staticmethod
    def _record(request: HttpRequest, started: float) -> None:
        route = _route(request)
        if route is not None:
            web_request_record(route=route, seconds=time.perf_counter() - started)
