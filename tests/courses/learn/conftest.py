import pytest
from django.test import Client

from campus.redis_client import redis_client
from courses import routing
from courses.exercises.services import exercise_create
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory


@pytest.fixture
def page():
    """A learner on the exercise page of the `add` exercise: (user, exercise, base URL, client)."""
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    base = f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/"
    client = Client()
    client.force_login(enrollment.user)
    return enrollment.user, exercise, base, client


@pytest.fixture
def no_workers_known():
    """Each test starts with no interactive worker known: a worker an earlier test killed
    counts as alive for up to routing.STALE_AFTER_S, and a new session would be sent to it."""
    client = redis_client()
    client.delete(routing.WORKERS_KEY, routing.ASSIGNED_KEY)
    yield
    client.delete(routing.WORKERS_KEY, routing.ASSIGNED_KEY)
