"""The operations page, for platform staff (superusers) only."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.grading import operations


def _platform_staff(request: HttpRequest) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied("Platform staff only")


@login_required
def operations_view(request: HttpRequest) -> HttpResponse:
    """Fast: asking the workers takes a second, so the page shows their latest answer (or
    none) and asks again from script (operations_workers_view)."""
    _platform_staff(request)
    workers = operations.workers_seen()
    return render(
        request,
        "courses/grading/operations.html",
        {
            "queues": operations.queue_depths(),
            **_worker_figures(workers or [], asked=workers is not None),
            "session_workers": operations.session_workers(),
            "sessions_waiting": operations.sessions_waiting(),
            "latency": operations.grading_latency(),
            "web_latency": operations.web_latency(),
            "errors": operations.recent_errors(),
        },
    )


@login_required
def operations_workers_view(request: HttpRequest) -> HttpResponse:
    """The workers' cards of the operations page, from a fresh broadcast."""
    _platform_staff(request)
    workers = operations.workers(timeout=settings.HEALTH_CELERY_TIMEOUT_S / 3)
    return render(request, "courses/grading/_workers.html", _worker_figures(workers, asked=True))


def _worker_figures(workers: list[operations.WorkerState], *, asked: bool) -> dict[str, object]:
    return {
        "workers": workers,
        "workers_asked": asked,
        "warm_kernels": sum(w.kernels_ready or 0 for w in workers),
    }
