"""The real path: HTTP submit → Celery (real worker, real Redis) → sandboxed kernel →
trusted grader → saved → live progress over SSE."""

import asyncio
import json

import pytest
from django.test import AsyncClient, Client

from courses.exercises.services import exercise_create
from courses.models import Submission, SubmissionStatus
from tests.support.exercises import add_exercise, answered, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
]


@pytest.fixture(scope="module")
def worker(django_db_setup):
    with celery_worker(queues="grading,default"):
        yield


@pytest.fixture
def setup():
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    url = f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/submit"
    return enrollment.user, url


async def _follow(user, events_url: str) -> list[dict]:
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(events_url)
    assert response["Content-Type"].startswith("text/event-stream")
    events = []
    async for chunk in response.streaming_content:
        for block in chunk.decode().split("\n\n"):
            if block.startswith("event: status"):
                events.append(json.loads(block.split("data: ", 1)[1]))
    return events


@pytest.mark.parametrize(
    ("answer", "score"),
    [("def add(a, b):\n    return a + b\n", "3.00"), ("def add(a, b):\n    return 3\n", "2.00")],
)
def test_a_submission_is_graded_by_a_real_worker_and_followed_live(
    worker, setup, answer, score
) -> None:
    user, submit_url = setup
    client = Client()
    client.force_login(user)
    # when the learner submits over HTTP
    response = client.post(
        submit_url,
        data=json.dumps(answered(add_exercise(), add=answer)),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    # then the event stream ends with the grade
    events = asyncio.run(asyncio.wait_for(_follow(user, body["events_url"]), timeout=300))
    final = events[-1]
    assert final["status"] == SubmissionStatus.GRADED, events
    assert final["score"] == score
    assert {t["grade_id"] for t in final["tests"]} == {"test_add", "test_add_hidden"}
    assert all("detail" not in t for t in final["tests"])
    assert "add(-5, 5)" not in json.dumps(events)  # hidden test code never reaches the learner
    submission = Submission.objects.get(pk=body["id"])
    assert str(submission.score) == score
