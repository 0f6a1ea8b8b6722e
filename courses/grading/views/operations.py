"""The operations page, for platform staff (superusers) only."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.grading import operations


@login_required
def operations_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        raise PermissionDenied("Platform staff only")
    workers = operations.workers(timeout=settings.HEALTH_CELERY_TIMEOUT_S / 3)
    return render(
        request,
        "courses/grading/operations.html",
        {
            "queues": operations.queue_depths(),
            "workers": workers,
            "warm_kernels": sum(w.kernels_ready or 0 for w in workers),
            "session_workers": operations.session_workers(),
            "sessions_waiting": operations.sessions_waiting(),
            "latency": operations.grading_latency(),
            "web_latency": operations.web_latency(),
            "errors": operations.recent_errors(),
        },
    )
