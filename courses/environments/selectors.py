"""What the instructor sees of a course's environment."""

from typing import Any

from django.utils.translation import gettext as _

from courses.models import Course, CourseEnvironment, EnvironmentStatus

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
            "progress": "",
            "message": "",
        }
    return {
        "status": str(environment.status),
        "label": str(EnvironmentStatus(environment.status).label),
        "busy": environment.status in BUSY,
        "progress": environment.progress,
        "message": environment.message,
    }
