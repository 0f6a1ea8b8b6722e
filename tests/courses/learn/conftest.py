from decimal import Decimal

import pytest
from django.test import Client

from campus.redis_client import redis_client
from courses import routing
from courses.exercises.services import exercise_create
from courses.models import Submission, SubmissionStatus
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory


@pytest.fixture
def setup():
    """A learner on the exercise page of the `add` exercise: (enrollment, exercise, base URL,
    client)."""
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    base = f"/courses/{course.organization.slug}/{course.slug}/exercises/add/"
    client = Client()
    client.force_login(enrollment.user)
    return enrollment, exercise, base, client


@pytest.fixture
def page(setup):
    """The same, as (user, exercise, base URL, client)."""
    enrollment, exercise, base, client = setup
    return enrollment.user, exercise, base, client


@pytest.fixture
def graded():
    """Makes a graded submission of the `add` exercise (graded_submission)."""
    return graded_submission


@pytest.fixture
def no_workers_known():
    """Each test starts with no interactive worker known: a worker an earlier test killed
    counts as alive for up to routing.STALE_AFTER_S, and a new session would be sent to it."""
    client = redis_client()
    client.delete(routing.WORKERS_KEY, routing.ASSIGNED_KEY)
    yield
    client.delete(routing.WORKERS_KEY, routing.ASSIGNED_KEY)


def graded_submission(
    enrollment, exercise, *, score: str, answer: str = "return a + b"
) -> Submission:
    """Graded out of 3: `answer` in the answer cell, the visible test passed (with a detail
    only staff may see), the hidden test failed."""
    return Submission.objects.create(
        learner=enrollment.user,
        exercise=exercise,
        cohort=enrollment.cohort,
        status=SubmissionStatus.GRADED,
        score=Decimal(score),
        max_score=Decimal(3),
        notebook={
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {"nbgrader": {"grade_id": "add"}},
                    "source": f"def add(a, b):\n    {answer}\n",
                }
            ]
        },
        result={
            "score": float(score),
            "max_score": 3.0,
            "pending_points": 0.0,
            "notes": [],
            "tests": [
                {"grade_id": "test_add", "points": 2.0, "max_points": 2.0, "passed": True,
                 "status": "passed", "message": "Passed", "detail": "SECRET DETAIL",
                 "hidden": False},
                {"grade_id": "test_add_hidden", "points": 0.0, "max_points": 1.0,
                 "passed": False, "status": "failed", "message": "A hidden test failed",
                 "detail": "assert add(-5, 5) == 0", "hidden": True},
            ],
        },
    )  # fmt: skip
