"""The live kernel, for real: HTTP run request → Celery (a real `-P threads` worker, real
Redis) → the learner's sandboxed kernel session → sanitised outputs over SSE."""

import asyncio
import json
import time

import pytest
from django.test import AsyncClient, Client

from courses import interactive, services
from tests.courses.exercises import add_exercise, as_json
from tests.factories import EnrollmentFactory, ModuleFactory
from tests.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
]


@pytest.fixture(scope="module")
def worker(django_db_setup):
    with celery_worker(queues="interactive", pool="threads"):
        yield


@pytest.fixture
def page():
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = services.exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    base = f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/"
    client = Client()
    client.force_login(enrollment.user)
    return enrollment.user, exercise, base, client


async def _collect(user, url: str, *, until, timeout: float = 60) -> list[dict]:
    """Events of the session's stream until `until(events)` says enough."""
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url)
    events: list[dict] = []

    async def read() -> None:
        async for chunk in response.streaming_content:
            for block in chunk.decode().split("\n\n"):
                if block.startswith("data: "):
                    events.append(json.loads(block[6:]))
            if until(events):
                return

    try:
        await asyncio.wait_for(read(), timeout=timeout)
    except TimeoutError:
        print("events so far:", events)  # what the stream said, to see what is missing
        raise
    return events


def _run_and_follow(user, client, base, cells, *, until, timeout=60) -> list[dict]:
    """Post a run once the stream is subscribed; return the stream's events."""

    async def scenario() -> list[dict]:
        task = asyncio.create_task(
            _collect(user, base + "kernel/events", until=until, timeout=timeout)
        )
        await asyncio.sleep(0.3)  # the stream subscribes before the run starts
        response = await asyncio.to_thread(
            client.post, base + "kernel/run", json.dumps({"cells": cells}), "application/json"
        )
        assert response.status_code == 202, response.content
        return await task

    return asyncio.run(scenario())


def _finished(count: int):
    return lambda events: (
        sum(e.get("state") in ("done", "error", "skipped") for e in events) >= count
    )


def test_a_cell_runs_in_the_learners_kernel_and_its_outputs_stream_back(worker, page) -> None:
    user, exercise, base, client = page
    # when two cells run, the second using the first's variable
    events = _run_and_follow(
        user, client, base,
        [{"key": "a", "code": "x = 40\nprint('hello')"}, {"key": "b", "code": "x + 2"}],
        until=_finished(2),
    )  # fmt: skip
    # then the session kept its state between cells and the outputs came back in order
    outputs = [(e["cell"], e["output"]) for e in events if e["type"] == "output"]
    assert ("a", {"type": "stream", "name": "stdout", "text": "hello\n"}) in outputs
    assert ("b", {"type": "text", "text": "42"}) in outputs
    assert [e["state"] for e in events if e["type"] == "run" and e["state"] != "running"] == [
        "done",
        "done",
    ]
    assert interactive.session_holder(learner_id=user.pk, exercise_id=exercise.pk)


def test_an_error_skips_the_next_cells_and_html_is_sanitised(worker, page) -> None:
    user, _, base, client = page
    code = "from IPython.display import HTML\nHTML('<b>bold</b><script>alert(1)</script>')"
    events = _run_and_follow(
        user, client, base,
        [{"key": "h", "code": code}, {"key": "e", "code": "1/0"}, {"key": "n", "code": "1"}],
        until=_finished(3),
    )  # fmt: skip
    html = next(e["output"] for e in events if e.get("cell") == "h" and e["type"] == "output")
    assert html == {"type": "html", "html": "<b>bold</b>"}
    error = next(e["output"] for e in events if e.get("cell") == "e" and e["type"] == "output")
    assert error["ename"] == "ZeroDivisionError" and "\x1b[" not in error["traceback"]
    assert {k: v for k, v in events[-1].items() if k != "run"} == {
        "type": "run",
        "state": "skipped",
        "cell": "n",
    }


def test_a_matplotlib_plot_arrives_as_a_png_image(worker, page) -> None:
    user, _, base, client = page
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    events = _run_and_follow(
        user, client, base, [{"key": "p", "code": code}], until=_finished(1), timeout=90
    )
    images = [
        e["output"] for e in events if e["type"] == "output" and e["output"]["type"] == "image"
    ]
    assert len(images) == 1 and images[0]["png"].startswith("iVBORw0KGgo")


def test_interrupt_stops_a_running_cell_and_the_session_lives_on(worker, page) -> None:
    user, _exercise, base, client = page
    _run_and_follow(user, client, base, [{"key": "w", "code": "y = 5"}], until=_finished(1))

    async def scenario() -> list[dict]:
        task = asyncio.create_task(
            _collect(user, base + "kernel/events", until=_finished(1), timeout=60)
        )
        await asyncio.sleep(0.3)
        body = json.dumps({"cells": [{"key": "s", "code": "import time\ntime.sleep(30)"}]})
        await asyncio.to_thread(client.post, base + "kernel/run", body, "application/json")
        await asyncio.sleep(1.5)
        started = time.monotonic()
        await asyncio.to_thread(client.post, base + "kernel/interrupt")
        events = await asyncio.wait_for(task, timeout=60)
        assert time.monotonic() - started < 10
        return events

    events = asyncio.run(scenario_then_check(scenario, user, client, base))
    assert any(
        e["type"] == "output" and e["output"].get("ename") == "KeyboardInterrupt" for e in events
    )


async def scenario_then_check(scenario, user, client, base) -> list[dict]:
    events = await scenario()
    # the variable defined before the interrupt is still there
    task = asyncio.create_task(
        _collect(user, base + "kernel/events", until=_finished(1), timeout=30)
    )
    await asyncio.sleep(0.3)
    body = json.dumps({"cells": [{"key": "check", "code": "y"}]})
    await asyncio.to_thread(client.post, base + "kernel/run", body, "application/json")
    after = await task
    assert {"type": "text", "text": "5"} in [e["output"] for e in after if e["type"] == "output"]
    return events


def test_a_restart_clears_the_kernel_and_a_dead_kernel_is_reported(worker, page) -> None:
    user, exercise, base, client = page
    _run_and_follow(user, client, base, [{"key": "v", "code": "z = 1"}], until=_finished(1))
    client.post(base + "kernel/restart")
    events = _run_and_follow(user, client, base, [{"key": "v", "code": "z"}], until=_finished(1))
    assert any(e["type"] == "output" and e["output"].get("ename") == "NameError" for e in events)
    # when the learner's code kills its own kernel
    events = _run_and_follow(
        user, client, base,
        [{"key": "k", "code": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}],
        until=lambda evs: any(e.get("state") == "dead" for e in evs),
    )  # fmt: skip
    # then the page is told, and no session is left behind
    assert any(e["type"] == "kernel" and e["state"] == "dead" for e in events)
    assert interactive.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None


def test_an_idle_session_is_culled_with_a_message(worker, page) -> None:
    user, exercise, base, client = page
    _run_and_follow(user, client, base, [{"key": "c", "code": "1"}], until=_finished(1))

    async def scenario() -> list[dict]:
        task = asyncio.create_task(
            _collect(
                user, base + "kernel/events",
                until=lambda evs: any(e.get("state") == "culled" for e in evs), timeout=30,
            )
        )  # fmt: skip
        await asyncio.sleep(0.3)
        await asyncio.to_thread(interactive.sessions_cull_idle, idle_s=0)
        return await task

    events = asyncio.run(scenario())
    assert {"type": "kernel", "state": "culled"} in events
    assert interactive.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None
