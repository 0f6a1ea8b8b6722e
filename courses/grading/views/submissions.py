"""Where a submission starts and what its learner sees of it: submitting a notebook,
following its grading live (Server-Sent Events), its state, the graded notebook and the
feedback page."""

from typing import Any

import nbformat
from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from campus.payloads import JsonTooDeep, json_loads_bounded
from courses import sse
from courses.access import access_course, access_submission, user_of
from courses.environments.selectors import environment_notice
from courses.grading import feedback, progress, services
from courses.grading.feedback import learner_tests
from courses.models import Exercise, Submission, SubmissionStatus

EVENTS_MAX_S = 300


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
    access = access_course(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    exercise = get_object_or_404(Exercise, module__course=access.course, slug=exercise_slug)
    try:
        body = json_loads_bounded(request.body)
    except JsonTooDeep as exc:
        return JsonResponse({"error": f"The notebook is not accepted: {exc}."}, status=400)
    except ValueError:
        return JsonResponse({"error": "The request body is not valid JSON."}, status=400)
    notebook = body.get("notebook", body) if isinstance(body, dict) else None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return JsonResponse({"error": "Send a Jupyter notebook (JSON with cells)."}, status=400)
    try:
        submission = services.submission_create(
            learner=user_of(request),
            exercise=exercise,
            notebook=notebook,
            cohort=access.cohort,  # read with the access check: the learner's cohort here
        )
    except services.SubmissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    # Accepted while the course's environment is not ready: it waits, graded once it is.
    notice = environment_notice(exercise_id=exercise.pk, course=access.course)
    return JsonResponse(
        {
            **submission_state(submission),
            "environment": notice,
            "status_url": reverse("courses:submission_status", args=[submission.pk]),
            "events_url": reverse("courses:submission_events", args=[submission.pk]),
        },
        status=202,
    )


@login_required
def submission_status_view(request: HttpRequest, submission_id: int) -> JsonResponse:
    submission = access_submission(
        user=user_of(request), submission_id=submission_id, with_notebooks=False
    )
    instructor = submission.learner_id != request.user.pk
    return JsonResponse(submission_state(submission, instructor=instructor))


async def submission_events_view(request: HttpRequest, submission_id: int) -> HttpResponseBase:
    """SSE: the current state first, then every change, until the grading is over."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "Log in first."}, status=401)
    submission = await sync_to_async(access_submission)(
        user=user, submission_id=submission_id, with_notebooks=False
    )

    async def fresh_state() -> dict[str, Any]:
        return await sync_to_async(_fresh_state)(submission.pk)

    async def shown(event: dict[str, Any]) -> dict[str, Any]:
        # The final event carries the whole result, read from the database.
        if event.get("status") in services.TERMINAL:
            return await fresh_state()
        return {"id": submission.pk, "status": event.get("status")}

    return sse.response(
        sse.relay(
            progress.channel_name(submission.pk),
            opening=fresh_state,
            shown=shown,
            last=lambda event: event.get("status") in services.TERMINAL,
            name="status",
            max_s=EVENTS_MAX_S,
        )
    )


def _fresh_state(submission_id: int) -> dict[str, Any]:
    return submission_state(Submission.objects.defer("notebook").get(pk=submission_id))


@login_required
@require_GET
def graded_notebook_view(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(user=user_of(request), submission_id=submission_id)
    notebook = feedback.graded_notebook(submission=submission)
    response = HttpResponse(nbformat.writes(notebook), content_type="application/x-ipynb+json")
    name = f"{submission.exercise.slug}-attempt-{submission.attempt}.ipynb"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_GET
def feedback_view(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(user=user_of(request), submission_id=submission_id)
    download = bool(request.GET.get("download"))
    exercise = submission.exercise
    course = exercise.module.course
    back = reverse("courses:exercise", args=[course.organization.slug, course.slug, exercise.slug])
    response = HttpResponse(
        feedback.feedback_html(submission=submission, back_url="" if download else back)
    )
    if download:
        name = f"{submission.exercise.slug}-attempt-{submission.attempt}-feedback.html"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    # Standalone: it needs nothing from us, and must never run anything.
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    )
    return response
