"""The learner's pages: my courses, a course's outline, a lesson, and the exercise page (a
notebook in the browser, its live kernel, drafts, the history of submissions)."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campus.payloads import json_loads_bounded
from courses import sse
from courses.access import access_course, user_of
from courses.catalog.selectors import course_outline, my_courses
from courses.cohorts.quotas import QuotaExceeded
from courses.environments.selectors import environment_notice
from courses.exercises.policy import attempts_left, late_state
from courses.exercises.selectors import exercise_terms
from courses.grading.views.submissions import submission_state
from courses.html import render_markdown
from courses.learn import selectors, services, sessions
from courses.models import Exercise, Lesson, Submission

EVENTS_MAX_S = 600
MAX_RUN_CELLS = 200
KERNEL_ACCESS_CACHE_S = 60


@login_required
def my_courses_view(request: HttpRequest) -> HttpResponse:
    cards = my_courses(user=user_of(request))
    progress = selectors.course_progress(
        learner=user_of(request), course_ids=[card.course.pk for card in cards]
    )
    rows = [(card, progress[card.course.pk]) for card in cards]
    return render(request, "courses/learn/my_courses.html", {"cards": cards, "rows": rows})


@login_required
def course_outline_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    outline = course_outline(course=access.course)
    exercises = [item.exercise for entry in outline for item in entry.items if item.exercise]
    statuses = selectors.exercise_statuses(
        learner=user_of(request), exercise_ids=[exercise.pk for exercise in exercises]
    )
    for exercise in exercises:
        exercise.learner_status = statuses[exercise.pk]  # type: ignore[attr-defined]
    return render(
        request,
        "courses/learn/outline.html",
        {"access": access, "course": access.course, "outline": outline},
    )


@login_required
def lesson_view(
    request: HttpRequest, org_slug: str, course_slug: str, lesson_slug: str
) -> HttpResponse:
    access = access_course(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    lesson = (
        Lesson.objects.filter(module__course=access.course, slug=lesson_slug)
        .select_related("module")
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson")
    return render(
        request,
        "courses/learn/lesson.html",
        {"course": access.course, "lesson": lesson, "body_html": render_markdown(lesson.body)},
    )


def _exercise(request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str) -> Any:
    access = access_course(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    exercise = get_object_or_404(
        Exercise.objects.select_related("module"), module__course=access.course, slug=exercise_slug
    )
    return access, exercise


@dataclass(frozen=True)
class KernelAccess:
    """What a kernel request needs once `_exercise` let the user in."""

    exercise_id: int
    pins_environment: bool  # the course runs in an environment of its own
    quota: selectors.SessionQuota


def _kernel_access(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> KernelAccess:
    """Kernel requests come in bursts (run all, Shift+Enter, a class at once...): what they
    need is read once and reused for a minute, in one cache entry. A minute is also how
    long a revoked enrollment may keep a kernel it already had, a new CPU limit may wait,
    and a newly pinned environment may go unsaid here (the holder refuses to start a
    kernel in an environment that is not ready)."""
    user = user_of(request)
    # Under the quota counters' prefix: deployments (and tests) sharing a Redis stay apart.
    prefix = getattr(settings, "QUOTA_KEY_PREFIX", "quota")
    key = f"learn:kernel-access:{prefix}:{user.pk}:{org_slug}:{course_slug}:{exercise_slug}"
    known: KernelAccess | None = cache.get(key)
    if known is None:
        access, exercise = _exercise(request, org_slug, course_slug, exercise_slug)
        known = KernelAccess(
            exercise_id=exercise.pk,
            pins_environment=access.course.environment_id is not None,
            quota=selectors.session_quota(learner=user, exercise_id=exercise.pk),
        )
        cache.set(key, known, KERNEL_ACCESS_CACHE_S)
    return known


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json_loads_bounded(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@login_required
@require_GET
def exercise_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> HttpResponse:
    access, exercise = _exercise(request, org_slug, course_slug, exercise_slug)
    user = user_of(request)
    cells = selectors.exercise_cells(exercise=exercise, learner=user)
    deadline, max_attempts = exercise_terms(exercise=exercise, learner=user)
    state = late_state(deadline=deadline, at=timezone.now())
    history = selectors.submission_history(exercise=exercise, learner=user)
    used = selectors.attempts_used_in(history, exercise=exercise, learner=user)
    left = attempts_left(max_attempts=max_attempts, used=used)
    args = [org_slug, course_slug, exercise_slug]
    return render(
        request,
        "courses/learn/exercise.html",
        {
            "course": access.course,
            "exercise": exercise,
            "cells": cells,
            "new_cells": selectors.new_added_cells(),
            "deadline": deadline,
            "late": state,
            "attempts_left": left,
            "history": history,
            "can_submit": access.cohort is not None,
            "closed": not state.accepted or left == 0,
            "environment": environment_notice(exercise_id=exercise.pk, course=access.course),
            "config": {
                "strings": page_strings(),
                "max_added_cells": services.MAX_ADDED_CELLS,
                "urls": {
                    "draft": reverse("courses:draft", args=args),
                    "preview": reverse("courses:written_preview", args=args),
                    "run": reverse("courses:kernel_run", args=args),
                    "interrupt": reverse("courses:kernel_interrupt", args=args),
                    "restart": reverse("courses:kernel_restart", args=args),
                    "events": reverse("courses:kernel_events", args=args),
                    "submit": reverse("courses:submit", args=args),
                    "history": reverse("courses:history", args=args),
                },
            },
        },
    )


def page_strings() -> dict[str, str]:
    """What the page's script says, in the learner's language: made once per language (and
    session limit, which one of them names), then copied."""
    return dict(_page_strings(get_language(), settings.INTERACTIVE_SESSIONS_PER_LEARNER))


@lru_cache(maxsize=16)
def _page_strings(language: str, session_limit: int) -> dict[str, str]:
    """The strings in `language`, the active one (the cache's key)."""
    return {
        "kernel_none": _("Kernel: not started (it starts when you run a cell)"),
        "kernel_starting": _("Kernel: starting…"),
        "kernel_ready": _("Kernel: ready"),
        "kernel_running": _("Kernel: running…"),
        "kernel_restarted": _("Kernel restarted: your variables were cleared."),
        "kernel_dead": _("Your kernel stopped: %(reason)s. Run a cell to start a new one."),
        "kernel_culled": _(
            "Your kernel was stopped because it was idle. Run a cell to start a new one, "
            "then run again the cells you need."
        ),
        "kernel_stopped": _("Your kernel was stopped. Run a cell to start a new one."),
        "kernel_queued": _(
            "Every kernel is taken: you are number %(place)s in line, about %(eta_s)s s. "
            "Your cells will run as soon as a kernel is free."
        ),
        "kernel_lost": _(
            "Your kernel was restarted: the server holding it stopped, and your variables "
            "were cleared. Run your cells again."
        ),
        "kernel_idle_warning": _(
            "Your kernel has been idle and will stop in about %(minutes)s min. Your draft "
            "is kept; run a cell to keep the kernel."
        ),
        # %(limit)s is filled in by the page; the grammatical number follows the setting.
        "kernel_evicted": ngettext(
            "This kernel was closed because you opened a notebook in another exercise (at "
            "most %(limit)s live kernel per learner). Your draft is kept. Run a cell to "
            "start a new kernel.",
            "This kernel was closed because you opened notebooks in other exercises (at most "
            "%(limit)s live kernels per learner). Your draft is kept. Run a cell to start a "
            "new kernel.",
            session_limit,
        ),
        "kernel_unavailable": _(
            "Your kernel could not be started. Try again; if it keeps failing, tell your "
            "instructor."
        ),
        "kernel_unavailable_environment": _(
            "This course's software environment is not ready. Your work is kept; try again "
            "in a minute."
        ),
        "kernel_no_answer": _(
            "Your kernel does not answer. Use “Restart kernel” to get a new one."
        ),
        "reason_memory": _("it used more memory than allowed"),
        "reason_timeout": _("a cell ran for too long"),
        "reason_cpu": _("it used too much processor time"),
        "reason_output": _("a cell printed too much"),
        "reason_dead": _("it exited"),
        "skipped": _("Not run: an earlier cell failed."),
        "skipped_interrupted": _("Not run: you interrupted it."),
        "saving": _("Saving…"),
        "saved": _("All changes saved"),
        "save_failed": _("Not saved: check your connection. Retrying…"),
        "submit_queued": _("Submitted: waiting for a grader…"),
        "submit_running": _("Grading your notebook…"),
        "submit_graded": _("Score: %(score)s / %(max)s"),
        "submit_failed": _("Not graded: %(reason)s"),
        "submit_error": _(
            "Grading failed on our side and staff were told. This attempt does not count."
        ),
        "submit_network": _("Could not submit: check your connection and try again."),
        "test": _("Test"),
        "result": _("Result"),
        "points": _("Points"),
        "message": _("Message"),
        "status_passed": _("Passed"),
        "status_failed": _("Failed"),
        "status_partial": _("Partial credit"),
        "status_pending": _("Waiting for a person"),
        "status_graded": _("Graded by a person"),
        "hidden_test": _("hidden test"),
        "preview_failed": _("The preview could not be shown. Your answer is kept."),
        "too_many_cells": _(
            "You have added %(max)s cells, the most a notebook keeps: delete one to add another."
        ),
    }


@login_required
@require_POST
def draft_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> JsonResponse:
    """Save the draft: JSON {"cells": {key: source}, "added": [{"id", "after", "cell_type",
    "source"}]} (the cells the learner added, in order)."""
    _access, exercise = _exercise(request, org_slug, course_slug, exercise_slug)
    body = _json_body(request)
    if body is None or not isinstance(body.get("cells"), dict):
        return JsonResponse({"error": _("Send the cells to save.")}, status=400)
    try:
        draft = services.draft_save(
            learner=user_of(request),
            exercise=exercise,
            sources=body["cells"],
            added=body.get("added"),
        )
    except services.DraftRefused:
        return JsonResponse({"error": _("This notebook is too large to save.")}, status=413)
    return JsonResponse({"saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
def written_preview_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> HttpResponse:
    """A written answer's preview: the same Markdown renderer and sanitiser as the page."""
    _exercise(request, org_slug, course_slug, exercise_slug)
    return HttpResponse(
        render_markdown(request.POST.get("body", "")[:200_000]),
        content_type="text/html; charset=utf-8",
    )


@login_required
@require_POST
def kernel_run_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> JsonResponse:
    """Run cells in the learner's kernel: JSON {"cells": [{"key", "code"}]} → 202 run ids;
    outputs arrive on the events stream."""
    kernel = _kernel_access(request, org_slug, course_slug, exercise_slug)
    body = _json_body(request)
    cells = body.get("cells") if body else None
    if (
        not isinstance(cells, list)
        or not 0 < len(cells) <= MAX_RUN_CELLS
        or not all(isinstance(c, dict) and isinstance(c.get("code"), str) for c in cells)
    ):
        return JsonResponse({"error": _("Send the cells to run.")}, status=400)
    if kernel.pins_environment:
        notice = environment_notice(exercise_id=kernel.exercise_id)
        if notice is not None:
            # Nothing would start: say why (the page's draft keeps the learner's work).
            return JsonResponse({"error": notice["message"], "environment": notice}, status=503)
    try:
        selectors.check_session_quota(learner=user_of(request), quota=kernel.quota)
    except QuotaExceeded as exc:
        return JsonResponse({"error": str(exc)}, status=429)
    runs = sessions.session_run_request(
        learner_id=user_of(request).pk,
        exercise_id=kernel.exercise_id,
        cells=[(str(c.get("key", "")), c["code"]) for c in cells],
    )
    return JsonResponse({"runs": runs}, status=202)


@login_required
@require_POST
def kernel_interrupt_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> JsonResponse:
    exercise_id = _kernel_access(request, org_slug, course_slug, exercise_slug).exercise_id
    sent = sessions.session_interrupt_request(
        learner_id=user_of(request).pk, exercise_id=exercise_id
    )
    return JsonResponse({"interrupted": sent}, status=202)


@login_required
@require_POST
def kernel_restart_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> JsonResponse:
    exercise_id = _kernel_access(request, org_slug, course_slug, exercise_slug).exercise_id
    sessions.session_restart_request(learner_id=user_of(request).pk, exercise_id=exercise_id)
    return JsonResponse({"restarted": True}, status=202)


async def kernel_events_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> HttpResponseBase:
    """SSE: the session's events (kernel state, runs, outputs) as they happen."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": _("Log in first.")}, status=401)
    request.user = user
    _access, exercise = await sync_to_async(_exercise)(
        request, org_slug, course_slug, exercise_slug
    )
    learner_id, exercise_id = user.pk, exercise.pk

    async def hello() -> dict[str, Any]:
        held = await sync_to_async(sessions.read_record)(learner_id, exercise_id)
        return {"type": "hello", "kernel": "ready" if held else "none"}

    return sse.response(
        sse.relay(sessions.channel_name(learner_id, exercise_id), opening=hello, max_s=EVENTS_MAX_S)
    )


@login_required
@require_GET
def history_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_slug: str
) -> HttpResponse:
    """The learner's submissions to this exercise, newest first, with their links."""
    _access, exercise = _exercise(request, org_slug, course_slug, exercise_slug)
    submissions = selectors.submission_history(exercise=exercise, learner=user_of(request))
    if request.GET.get("format") == "html":
        return render(request, "courses/learn/history.html", {"history": submissions})
    return JsonResponse({"submissions": [_history_item(s) for s in submissions]})


def _history_item(submission: Submission) -> dict[str, Any]:
    return {
        **submission_state(submission),
        "submitted_at": submission.created_at.isoformat(),
        "notebook_url": reverse("courses:graded_notebook", args=[submission.pk]),
        "feedback_url": reverse("courses:feedback", args=[submission.pk]),
    }
