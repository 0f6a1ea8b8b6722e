"""The demo curriculum "Open AI models for science", shipped as a course folder
(courses/demo_courses/, the export_course format) and loaded by `seed_demo`."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from courses.authoring.folder_import import course_import
from courses.models import Cohort, Course, Enrollment, EnrollmentRole

COURSE_DIR = Path(__file__).resolve().parent / "demo_courses" / "open-ai-models-for-science"
DEMO_ORG_SLUG = "demo-university"
DEMO_COHORT = "Open models demo cohort"
DEMO_MEMBERS = (
    ("student@demo.edu", EnrollmentRole.STUDENT),
    ("instructor@demo.edu", EnrollmentRole.INSTRUCTOR),
)


@transaction.atomic
def load_demo_curriculum() -> Course:
    """Import the demo course into the demo university and enroll the demo accounts.

    Call after `seed_demo` (which creates the university and the accounts); safe to repeat.
    """
    from campus.models import Organization, User

    organization = Organization.objects.get(slug=DEMO_ORG_SLUG)
    course = course_import(organization=organization, path=COURSE_DIR).course
    cohort, _ = Cohort.objects.get_or_create(
        course=course, name=DEMO_COHORT, defaults={"time_zone": "Europe/Paris"}
    )
    for email, role in DEMO_MEMBERS:
        user = User.objects.filter(email=email).first()
        if user is not None:
            Enrollment.objects.update_or_create(user=user, cohort=cohort, defaults={"role": role})
    return course
