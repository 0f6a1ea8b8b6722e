"""A course with every kind of person around it, for the teaching pages' tests."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import nbformat
from django.test import Client

from campus.models import Role, User
from courses.catalog.selectors import course_outline
from courses.exercises.services import exercise_create
from courses.models import (
    Cohort,
    Course,
    EnrollmentRole,
    Exercise,
    Lesson,
    Module,
    Submission,
    SubmissionStatus,
)
from tests.support.exercises import _meta, add_exercise, as_json
from tests.support.factories import (
    CohortFactory,
    EnrollmentFactory,
    LessonFactory,
    MembershipFactory,
    ModuleFactory,
)


@dataclass
class World:
    course: Course
    cohort: Cohort
    module: Module
    lesson: Lesson
    exercise: Exercise
    submission: Submission
    instructor: User
    ta: User
    student: User
    org_admin: User
    other_instructor: User  # teaches another course of the same university
    other_admin: User  # administers another university


def essay_exercise() -> dict[str, Any]:
    """`add_exercise` plus a free-response answer worth 2 points (nbgrader manual cell)."""
    nb = add_exercise()
    meta = _meta("essay", solution=True, grade=True, points=2)
    nb["cells"].append(nbformat.v4.new_markdown_cell("Explain your approach.", metadata=meta))
    return nb


def graded_submission(
    *, exercise: Exercise, learner: User, cohort: Cohort, **fields: Any
) -> Submission:
    """A graded submission as the worker leaves it: 3 autograded points, essay pending."""
    result = {
        "score": 3.0,
        "max_score": 5.0,
        "pending_points": 2.0,
        "notes": [],
        "tests": [
            {
                "grade_id": "test_add",
                "points": 2.0,
                "max_points": 2.0,
                "passed": True,
                "status": "passed",
                "message": "Passed",
                "detail": "",
                "hidden": False,
            },
            {
                "grade_id": "test_add_hidden",
                "points": 1.0,
                "max_points": 1.0,
                "passed": True,
                "status": "passed",
                "message": "Passed",
                "detail": "",
                "hidden": True,
            },
            {
                "grade_id": "essay",
                "points": 0.0,
                "max_points": 2.0,
                "passed": None,
                "status": "pending",
                "message": "Waiting for a person to grade this answer",
                "detail": "",
                "hidden": False,
            },
        ],
    }
    values: dict[str, Any] = {
        "status": SubmissionStatus.GRADED,
        "score": Decimal(3),
        "max_score": Decimal(5),
        "result": result,
        "notebook": {
            "cells": [
                {
                    "cell_type": "code",
                    "source": "def add(a, b):\n    return a + b\n",
                    "metadata": {"nbgrader": {"grade_id": "add"}},
                },
                {
                    "cell_type": "markdown",
                    "source": "I added the numbers <script>alert(1)</script>",
                    "metadata": {"nbgrader": {"grade_id": "essay"}},
                },
            ]
        },
    }
    values.update(fields)
    return Submission.objects.create(exercise=exercise, learner=learner, cohort=cohort, **values)


def make_world() -> World:
    cohort = CohortFactory(course__published=False, name="Autumn")
    course = cohort.course
    instructor = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR).user
    ta = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.TA).user
    student = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.STUDENT).user
    org_admin = MembershipFactory(organization=course.organization, role=Role.ORG_ADMIN).user
    other_cohort = CohortFactory(course__organization=course.organization)
    other_instructor = EnrollmentFactory(cohort=other_cohort, role=EnrollmentRole.INSTRUCTOR).user
    other_admin = MembershipFactory(role=Role.ORG_ADMIN).user
    module = ModuleFactory(course=course, title="Basics")
    lesson = LessonFactory(module=module, title="Welcome", body="Hello $x^2$", position=1)
    exercise = exercise_create(
        module=module, title="Add", slug="add", notebook=as_json(essay_exercise()), position=2
    )
    submission = graded_submission(exercise=exercise, learner=student, cohort=cohort)
    return World(
        course,
        cohort,
        module,
        lesson,
        exercise,
        submission,
        instructor,
        ta,
        student,
        org_admin,
        other_instructor,
        other_admin,
    )


def outline_keys(module: Module) -> list[str]:
    """The module's items in outline order, as the editor names them ("lesson-<id>")."""
    (entry,) = [e for e in course_outline(course=module.course) if e.module == module]
    return [f"{i.kind}-{(i.lesson or i.exercise).pk}" for i in entry.items]


def logged_in(user: User) -> Client:
    """A test client with `user` signed in."""
    client = Client()
    client.force_login(user)
    return client


def teach_url(w: World) -> str:
    """The teaching pages' root of the world's course."""
    return f"/courses/teach/{w.course.organization.slug}/{w.course.slug}/"
