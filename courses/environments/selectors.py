"""What instructors and learners see of a course's environment."""

from typing import Any

from django.utils.translation import gettext as _

from courses.models import Course, CourseEnvironment, EnvironmentStatus
from sandbox import build_percent

BUSY = (EnvironmentStatus.QUEUED, EnvironmentStatus.BUILDING)


def environment_state(course: Course) -> dict[str, Any]:
    """The status of the course's environment, as the settings page shows and polls it."""
    environment = (
        CourseEnvironment.objects.filter(courses=course).first() if course.environment_id else None
    )
    if environment is None:
        return {
            "status": "none",
            "label": _("Standard packages only"),
            "busy": False,
            "percent": 100,
            "progress": "",
            "message": "",
        }
    return {
        "status": str(environment.status),
        "label": str(EnvironmentStatus(environment.status).label),
        "busy": environment.status in BUSY,
        "percent": _percent(environment),
        "progress": environment.progress,
        "message": environment.message,
    }


def environment_notice(*, exercise_id: int, course: Course | None = None) -> dict[str, Any] | None:
    """What a learner is told while the environment of the exercise's course is not ready
    (None once it is, or when the course pins nothing): "building" with how far along, or
    "failed". One query; none when the caller gives the exercise's `course` and it pins
    nothing."""
    if course is not None and course.environment_id is None:
        return None
    environment = (
        CourseEnvironment.objects.filter(courses__modules__exercises__pk=exercise_id)
        .only("status", "progress")
        .first()
    )
    if environment is None or environment.status == EnvironmentStatus.READY:
        return None
    if environment.status in BUSY:
        percent = _percent(environment)
        text = _(
            "This course's software environment is being prepared (%(percent)s %%). "
            "Your work is kept; try again in a minute."
        ) % {"percent": percent}
        return {"state": "building", "percent": percent, "message": text}
    text = _(
        "This course's software environment could not be built, so code cannot run yet. "
        "Your instructors have been told. Your work is kept: submissions are graded once "
        "the environment is fixed."
    )
    return {"state": "failed", "percent": None, "message": text}


def _percent(environment: CourseEnvironment) -> int:
    if environment.status == EnvironmentStatus.READY:
        return 100
    if environment.status == EnvironmentStatus.QUEUED:
        return 0
    return build_percent(environment.progress)
