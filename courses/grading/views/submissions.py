"""Submitting a notebook, and following its grading live (Server-Sent Events)."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from courses import progress, services
from courses.access import access_course, access_submission
from courses.feedback import learner_tests
from courses.models import Exercise, Submission, SubmissionStatus

EVENTS_MAX_S = 300
KEEPALIVE_S = 15


def submission_state(submission: Submission, *, instructor: bool = False) -> dict[str, Any]:
    """What the learner's page shows: status, score, per-test feedback without hidden detail."""
    state: dict[str, Any] = {
        "id": submission.pk,
        "status": submission.status,
        "attempt": submission.attempt,
        "late_days": submission.late_days,
        "score": None if submission.score is None else str(submission.score),
        "max_score": None if submission.max_score is None else str(submission.max_score),
    }
    if submission.status == SubmissionStatus.FAILED:
        state["reason"] = submission.error_message
    if (
        submission.status in (SubmissionStatus.GRADED, SubmissionStatus.FAILED)
        and submission.result
    ):
        state["tests"] = (
            submission.result.get("tests", []) if instructor else learner_tests(submission)
        )
        state["notes"] = submission.result.get("notes", [])
    return state


@login_required
@require_POST
def submit_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> HttpResponse:
    """POST a notebook (JSON body: the .ipynb, or {"notebook": ...}); 202 with its URLs."""
    access = access_course(user=request.user, org_slug=org_slug, course_slug=course_slug)  # type: ignore[arg-type]
    exercise = get_object_or_404(Exercise, module__course=access.course, slug=exercise_slug)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "The request body is not valid JSON."}, status=400)
    notebook = body.get("notebook", body) if isinstance(body, dict) else None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return JsonResponse({"error": "Send a Jupyter notebook (JSON with cells)."}, status=400)
    try:
        submission = services.submission_create(
            learner=request.user,  # type: ignore[arg-type]
            exercise=exercise,
            notebook=notebook,
        )
    except services.SubmissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse(
        {
            **submission_state(submission),
            "status_url": reverse("courses:submission_status", args=[submission.pk]),
            "events_url": reverse("courses:submission_events", args=[submission.pk]),
        },
        status=202,
    )


@login_required
def submission_status_view(request: HttpRequest, submission_id: int) -> JsonResponse:
    submission = access_submission(user=request.user, submission_id=submission_id)  # type: ignore[arg-type]
    instructor = submission.learner_id != request.user.pk
    return JsonResponse(submission_state(submission, instructor=instructor))


async def submission_events_view(request: HttpRequest, submission_id: int) -> HttpResponseBase:
    """SSE: the current state first, then every change, until the grading is over."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "Log in first."}, status=401)
    submission = await sync_to_async(access_submission)(user=user, submission_id=submission_id)
    response = StreamingHttpResponse(
        _events(submission), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _events(submission: Submission) -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    try:
        # Subscribe before reading the state: no change can slip between the two.
        await pubsub.subscribe(progress.channel_name(submission.pk))
        current = await sync_to_async(_fresh_state)(submission.pk)
        yield _sse(current)
        if current["status"] in services.TERMINAL:
            return
        async for event in _changes(pubsub, submission.pk):
            yield event
    finally:
        await pubsub.aclose()
        await client.aclose()


async def _changes(pubsub: Any, submission_id: int) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EVENTS_MAX_S
    while loop.time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_S)
        if message is None:
            yield ": keep-alive\n\n"
            continue
        status = json.loads(message["data"]).get("status")
        if status in services.TERMINAL:
            # The final event carries the whole result, read from the database.
            yield _sse(await sync_to_async(_fresh_state)(submission_id))
            return
        yield _sse({"id": submission_id, "status": status})


def _fresh_state(submission_id: int) -> dict[str, Any]:
    return submission_state(Submission.objects.get(pk=submission_id))


def _sse(data: dict[str, Any]) -> str:
    return f"event: status\ndata: {json.dumps(data)}\n\n"
