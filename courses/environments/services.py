"""Course environments: declaring a course's pinned packages, building the runtime that
holds them, and finding it when a kernel of that course starts.

A course with pins grades nothing until their environment is ready: its submissions stay
QUEUED (the grading task leaves them) and are sent to grading the moment the build
succeeds; it cannot be published before. A worker host that lacks a ready environment
builds its own copy on first use (the pins are exact, so every host gets the same set).
"""

import logging
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat, Right
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from courses import queues
from courses.models import (
    Course,
    CourseEnvironment,
    Enrollment,
    EnrollmentRole,
    EnvironmentStatus,
    Submission,
    SubmissionStatus,
)
from sandbox import (
    Collected,
    SandboxUserError,
    build_environment,
    collect_environments,
    environment_key,
    parse_pins,
    requirements_digest,
)

PROGRESS_CHARS = 4000  # the tail of the build's output kept for the instructor's page
log = logging.getLogger(__name__)


class EnvironmentNotReady(Exception):
    """The course's environment is queued, building, refused or failed: nothing of the
    course can run yet."""

    def __init__(self, environment: CourseEnvironment) -> None:
        super().__init__(f"course environment {environment.digest[:12]} is {environment.status}")
        self.environment = environment


def environment_request(*, course: Course, requirements: str) -> CourseEnvironment | None:
    """Set the course's pinned packages (`requirements`, already checked with
    sandbox.parse_pins) and queue a build of their environment unless one exists; an
    environment refused or failed before is tried again. No pins: the kernel runtime."""
    pins, errors = parse_pins(requirements)
    if errors:
        raise ValueError(f"requirements not checked: {errors}")
    environment = None
    if pins:
        environment, created = CourseEnvironment.objects.get_or_create(
            digest=requirements_digest(pins),
            defaults={"requirements": "\n".join(pins), "requested_at": timezone.now()},
        )
        retry = environment.status in (EnvironmentStatus.REFUSED, EnvironmentStatus.FAILED)
        if retry:
            CourseEnvironment.objects.filter(pk=environment.pk).update(
                status=EnvironmentStatus.QUEUED,
                progress="",
                message="",
                requested_at=timezone.now(),
                finished_at=None,
            )
            environment.refresh_from_db()
        if created or retry:
            queues.enqueue_on_commit(queues.BUILD_ENVIRONMENT, environment.pk)
    course.requirements = "\n".join(pins)
    course.environment = environment
    course.save(update_fields=["requirements", "environment", "updated_at"])
    return environment


def environment_build(*, environment_id: int) -> None:
    """The worker's side: resolve, then build (sandbox.build_environment); record progress
    and the outcome. A refusal (unknown or conflicting pins) keeps pip's message for the
    instructor; any other failure is recorded too, then raised for the task to log."""
    environment = CourseEnvironment.objects.get(pk=environment_id)
    if environment.status == EnvironmentStatus.READY:
        return
    _update(environment_id, status=EnvironmentStatus.BUILDING, progress="", message="")
    try:
        build_environment(
            environment.requirements.splitlines(),
            index_url=settings.COURSE_PACKAGE_INDEX_URL,
            on_progress=lambda line: _append_progress(environment_id, line),
        )
    except SandboxUserError as exc:
        _update(environment_id, status=EnvironmentStatus.REFUSED, message=str(exc), done=True)
        _tell_instructors(environment_id, str(exc))
        return
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _update(environment_id, status=EnvironmentStatus.FAILED, message=message, done=True)
        _tell_instructors(environment_id, message)
        raise
    _update(environment_id, status=EnvironmentStatus.READY, done=True)
    _send_waiting_submissions(environment_id)


def _update(environment_id: int, *, done: bool = False, **fields: object) -> None:
    if done:
        fields["finished_at"] = timezone.now()
    CourseEnvironment.objects.filter(pk=environment_id).update(**fields)


def _tell_instructors(environment_id: int, message: str) -> None:
    """One email to each instructor of each course of the environment: what pip said and
    where to change the pins (learners are told that their instructors know)."""
    courses = Course.objects.filter(environment_id=environment_id).select_related("organization")
    messages = []
    for course in courses:
        url = settings.SITE_URL.rstrip("/") + reverse(
            "courses:teach:environment", args=[course.organization.slug, course.slug]
        )
        context = {"course": course, "message": message, "settings_url": url}
        subject = render_to_string("courses/environments/email/failed_subject.txt", context)
        body = render_to_string("courses/environments/email/failed_body.txt", context)
        emails = (
            Enrollment.objects.filter(cohort__course=course, role=EnrollmentRole.INSTRUCTOR)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
            .distinct()
        )
        messages += [
            EmailMessage(
                settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject.strip(),
                body,
                settings.DEFAULT_FROM_EMAIL,
                [email],
            )
            for email in emails
        ]
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)


def _append_progress(environment_id: int, line: str) -> None:
    CourseEnvironment.objects.filter(pk=environment_id).update(
        progress=Right(
            Concat(F("progress"), Value(line[:500] + "\n"), output_field=TextField()),
            PROGRESS_CHARS,
        )
    )


def _send_waiting_submissions(environment_id: int) -> None:
    """Submissions that waited for this environment go to grading now."""
    waiting = Submission.objects.filter(
        status=SubmissionStatus.QUEUED, cohort__course__environment_id=environment_id
    ).values_list("pk", flat=True)
    for submission_id in waiting:
        queues.enqueue_on_commit(queues.GRADE_SUBMISSION, submission_id)


def environment_runtime(*, course_id: int, course: Course | None = None) -> Path | None:
    """The runtime the course's kernels run in: None for the kernel runtime, else its
    environment's folder on this host (built here first when this host has none yet). No
    query when the caller gives the `course` and it pins nothing.

    Raises EnvironmentNotReady while the environment is not ready.
    """
    if course is not None and course.environment_id is None:
        return None
    environment = (
        CourseEnvironment.objects.filter(courses__pk=course_id).first()
        if course_id is not None
        else None
    )
    if environment is None:
        return None
    if environment.status != EnvironmentStatus.READY:
        raise EnvironmentNotReady(environment)
    return build_environment(
        environment.requirements.splitlines(), index_url=settings.COURSE_PACKAGE_INDEX_URL
    )


def environments_collect(*, now: float | None = None, dry_run: bool = False) -> Collected:
    """Remove this host's course runtimes that no course's current packages need and that
    nothing used for COURSE_RUNTIME_GRACE_S before `now` (epoch seconds); never one a
    kernel runs in or a build writes (sandbox.collect_environments)."""
    current = (
        CourseEnvironment.objects.filter(courses__isnull=False)
        .values_list("requirements", flat=True)
        .distinct()
    )
    keep = {environment_key(requirements.splitlines()) for requirements in current}
    collected = collect_environments(
        keep=keep, grace_s=settings.COURSE_RUNTIME_GRACE_S, now=now, dry_run=dry_run
    )
    log.info(
        "course runtimes: %s%d removed (%.1f MiB freed), %d unused but in use, %d recently used",
        "(dry run) " if dry_run else "",
        len(collected.removed),
        collected.freed_bytes / 2**20,
        len(collected.in_use),
        len(collected.recent),
    )
    return collected
