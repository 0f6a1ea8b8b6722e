"""Bad submissions get a clear answer, never a 500: too large, or nested too deep."""

import json

import pytest
from django.test import Client

from courses.exercises.services import exercise_create
from courses.models import Submission
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner_and_url():
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    client = Client()
    client.force_login(enrollment.user)
    return client, f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/"


def _notebook_of(size: int) -> str:
    notebook = as_json(add_exercise())
    notebook["cells"][1]["source"] = "# " + "x" * size + "\n"
    return json.dumps(notebook)


def test_a_notebook_between_2_5_and_5_mb_is_taken(learner_and_url) -> None:
    client, url = learner_and_url
    response = client.post(url + "submit", _notebook_of(3 * 2**20), content_type="application/json")
    assert response.status_code == 202
    assert Submission.objects.count() == 1


def test_a_notebook_over_5_mb_gets_the_too_large_message(learner_and_url) -> None:
    client, url = learner_and_url
    response = client.post(url + "submit", _notebook_of(6 * 2**20), content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"] == "This notebook is too large to submit."
    assert not Submission.objects.exists()


@pytest.mark.parametrize("endpoint", ["submit", "draft", "kernel/run"])
def test_json_nested_too_deep_is_a_400_never_a_500(learner_and_url, endpoint) -> None:
    client, url = learner_and_url
    deep = "[" * 50_000 + "]" * 50_000
    response = client.post(url + endpoint, deep, content_type="application/json")
    assert response.status_code == 400
    assert not Submission.objects.exists()
