"""Deep Linking: an instructor, from the LMS's picker, chooses exercises and lessons; the
signed response tells the LMS to create the links, with a gradebook column (line item,
max score) for each exercise that has points.

The request's settings are kept in the session between the launch and the choice; the
choice is checked against what the instructor was offered.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from campus.models import User
from courses.access import STAFF_ROLES
from courses.models import Course, Exercise, Lesson, Module
from lti import claims, keys
from lti.models import Registration
from lti.tokens import LaunchError, ValidLaunch

SESSION_KEY = "lti_deep_link"


@dataclass(frozen=True)
class Choice:
    kind: str  # "exercise" | "lesson"
    pk: int

    @classmethod
    def parse(cls, value: str) -> "Choice | None":
        kind, _sep, pk = value.partition(":")
        if kind not in ("exercise", "lesson") or not pk.isdigit():
            return None
        return cls(kind=kind, pk=int(pk))


def request_remember(*, launch: ValidLaunch, user: User) -> dict[str, Any]:
    """What the response will need, from a deep-linking launch by course staff."""
    role = claims.context_role([str(r) for r in launch.claims.get(claims.ROLES, [])])
    if role not in STAFF_ROLES:
        raise LaunchError(_("Only the LMS course's instructors can add links to exercises."))
    settings = launch.claims.get(claims.DEEP_LINKING_SETTINGS)
    if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
        raise LaunchError(_("The LMS sent no deep linking return URL."))
    return {
        "registration": launch.registration.pk,
        "deployment_id": launch.deployment.deployment_id,
        "return_url": str(settings["deep_link_return_url"]),
        "data": settings.get("data"),
        "accept_multiple": bool(settings.get("accept_multiple", True)),
        "user": user.pk,
    }


def offered_courses(*, registration: Registration, user: User) -> QuerySet[Course]:
    """The registering university's courses the instructor may link: published ones, and
    those they teach."""
    return (
        Course.objects.filter(organization=registration.organization)
        .filter(
            Q(published=True)
            | Q(cohorts__enrollments__user=user, cohorts__enrollments__role__in=STAFF_ROLES)
        )
        .distinct()
        .select_related("organization")
        .prefetch_related(
            Prefetch("modules", queryset=Module.objects.order_by("position", "id")),
            Prefetch("modules__exercises", queryset=Exercise.objects.order_by("position", "id")),
            Prefetch("modules__lessons", queryset=Lesson.objects.order_by("position", "id")),
        )
        .order_by("title")
    )


def _item(*, choice: Choice, courses: QuerySet[Course], base_url: str) -> dict[str, Any] | None:
    course_ids = [c.pk for c in courses]
    if choice.kind == "exercise":
        exercise = (
            Exercise.objects.select_related("module__course__organization")
            .filter(pk=choice.pk, module__course_id__in=course_ids)
            .first()
        )
        if exercise is None:
            return None
        course = exercise.module.course
        url = base_url + reverse(
            "courses:exercise",
            kwargs={
                "org_slug": course.organization.slug,
                "course_slug": course.slug,
                "exercise_slug": exercise.slug,
            },
        )
        item: dict[str, Any] = {"type": "ltiResourceLink", "title": exercise.title, "url": url}
        if exercise.points > 0:
            item["lineItem"] = {
                "scoreMaximum": float(exercise.points),
                "label": exercise.title,
                "resourceId": f"exercise-{exercise.pk}",
                "tag": "exercise",
            }
        return item
    lesson = (
        Lesson.objects.select_related("module__course__organization")
        .filter(pk=choice.pk, module__course_id__in=course_ids)
        .first()
    )
    if lesson is None:
        return None
    course = lesson.module.course
    url = base_url + reverse(
        "courses:lesson",
        kwargs={
            "org_slug": course.organization.slug,
            "course_slug": course.slug,
            "lesson_slug": lesson.slug,
        },
    )
    return {"type": "ltiResourceLink", "title": lesson.title, "url": url}


def response_jwt(*, request_state: dict[str, Any], choices: list[str], base_url: str) -> str:
    """The signed LtiDeepLinkingResponse for the chosen items (an empty list: cancelled)."""
    registration = Registration.objects.select_related("organization").get(
        pk=request_state["registration"], active=True
    )
    user = User.objects.get(pk=request_state["user"])
    courses = offered_courses(registration=registration, user=user)
    parsed = [c for c in (Choice.parse(v) for v in choices) if c is not None]
    items = [i for i in (_item(choice=c, courses=courses, base_url=base_url) for c in parsed) if i]
    if not request_state["accept_multiple"]:
        items = items[:1]
    now = int(timezone.now().timestamp())
    payload: dict[str, Any] = {
        "iss": registration.client_id,
        "aud": registration.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": secrets.token_urlsafe(16),
        claims.DEPLOYMENT_ID: request_state["deployment_id"],
        claims.MESSAGE_TYPE: claims.DEEP_LINKING_RESPONSE,
        claims.VERSION: "1.3.0",
        claims.DL_CONTENT_ITEMS: items,
    }
    if request_state.get("data") is not None:
        payload[claims.DL_DATA] = request_state["data"]
    return keys.sign(payload)
