"""The live kernel, for real: HTTP run request → Celery (a real `-P threads` worker, real
Redis) → the learner's sandboxed kernel session → sanitised outputs over SSE."""

import asyncio
import json

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


async def _collect(user, url: str, *, events: list[dict], arrived, until) -> None:
    """Append the session stream's events to `events` until `until(events)` says enough;
    `arrived` is set at each one."""
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url)
    async for chunk in response.streaming_content:
        for block in chunk.decode().split("\n\n"):
            if block.startswith("data: "):
                events.append(json.loads(block[6:]))
                arrived.set()
        if until(events):
            return


async def _seen(events: list[dict], arrived, predicate) -> None:
    while not predicate(events):
        arrived.clear()
        await arrived.wait()


class Seen:
    """A step: wait until the stream's events so far satisfy `predicate`."""

    def __init__(self, predicate) -> None:
        self.predicate = predicate


def _printed(cell: str, text: str):
    """The cell's output `text` arrived: it is surely running now."""
    return Seen(
        lambda events: any(
            e.get("cell") == cell and e["type"] == "output" and e["output"].get("text") == text
            for e in events
        )
    )


def _follow(user, base: str, *steps, until, timeout: float = 300) -> list[dict]:
    """Open the session's stream, then do `steps` (callables, or Seen) in order; returns
    the stream's events once `until` says enough. `timeout` only bounds a failing test."""

    async def scenario() -> list[dict]:
        events: list[dict] = []
        arrived = asyncio.Event()
        url = base + "kernel/events"
        task = asyncio.create_task(_collect(user, url, events=events, arrived=arrived, until=until))
        # the view subscribes before it says hello: the first event means we hear everything
        await _seen(events, arrived, bool)
        for step in steps:
            if isinstance(step, Seen):
                await _seen(events, arrived, step.predicate)
            else:
                await asyncio.to_thread(step)
        await task
        return events

    try:
        return asyncio.run(asyncio.wait_for(scenario(), timeout=timeout))
    except TimeoutError:
        pytest.fail(f"the session's stream did not say what was expected within {timeout} s")


def _run(client, base: str, *cells: tuple[str, str]):
    """A step: run cells (key, code) in the session."""

    def post() -> None:
        body = json.dumps({"cells": [{"key": key, "code": code} for key, code in cells]})
        response = client.post(base + "kernel/run", body, "application/json")
        assert response.status_code == 202, response.content

    return post


def _finished(count: int):
    return lambda events: (
        sum(e.get("state") in ("done", "error", "skipped") for e in events) >= count
    )


def _outputs(events: list[dict]) -> list[dict]:
    return [e["output"] for e in events if e["type"] == "output"]


def test_a_cell_runs_in_the_learners_kernel_and_its_outputs_stream_back(worker, page) -> None:
    user, exercise, base, client = page
    # when two cells run, the second using the first's variable
    events = _follow(
        user, base, _run(client, base, ("a", "x = 40\nprint('hello')"), ("b", "x + 2")),
        until=_finished(2),
    )  # fmt: skip
    # then the session kept its state between cells and the outputs came back in order
    outputs = [(e["cell"], e["output"]) for e in events if e["type"] == "output"]
    assert ("a", {"type": "stream", "name": "stdout", "text": "hello\n"}) in outputs
    assert ("b", {"type": "text", "text": "42"}) in outputs
    states = [e["state"] for e in events if e["type"] == "run" and e["state"] != "running"]
    assert states == ["done", "done"]
    assert interactive.session_holder(learner_id=user.pk, exercise_id=exercise.pk)


def test_an_error_skips_the_next_cells_and_html_is_sanitised(worker, page) -> None:
    user, _exercise, base, client = page
    code = "from IPython.display import HTML\nHTML('<b>bold</b><script>alert(1)</script>')"
    events = _follow(
        user, base, _run(client, base, ("h", code), ("e", "1/0"), ("n", "1")),
        until=_finished(3),
    )  # fmt: skip
    html = next(e["output"] for e in events if e.get("cell") == "h" and e["type"] == "output")
    assert html == {"type": "html", "html": "<b>bold</b>"}
    error = next(e["output"] for e in events if e.get("cell") == "e" and e["type"] == "output")
    assert error["ename"] == "ZeroDivisionError" and "\x1b[" not in error["traceback"]
    last = {k: v for k, v in events[-1].items() if k != "run"}
    assert last == {"type": "run", "state": "skipped", "cell": "n"}


def test_a_matplotlib_plot_arrives_as_a_png_image(worker, page) -> None:
    user, _exercise, base, client = page
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    events = _follow(user, base, _run(client, base, ("p", code)), until=_finished(1))
    images = [o for o in _outputs(events) if o["type"] == "image"]
    assert len(images) == 1 and images[0]["png"].startswith("iVBORw0KGgo")


SLEEPS = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)"


def test_interrupt_stops_a_running_cell_and_the_session_lives_on(worker, page) -> None:
    user, _exercise, base, client = page
    _follow(user, base, _run(client, base, ("w", "y = 5")), until=_finished(1))
    # when a sleeping cell is interrupted
    events = _follow(
        user, base, _run(client, base, ("s", SLEEPS)), _printed("s", "sleeping\n"),
        lambda: client.post(base + "kernel/interrupt"),
        until=_finished(1),
    )  # fmt: skip
    # then the interrupt stopped it (not the cell's time limit), and the variables remain
    assert [o["ename"] for o in _outputs(events) if "ename" in o] == ["KeyboardInterrupt"]
    after = _follow(user, base, _run(client, base, ("check", "y")), until=_finished(1))
    assert {"type": "text", "text": "5"} in _outputs(after)


def test_a_restart_clears_the_kernel_and_a_dead_kernel_is_reported(worker, page) -> None:
    user, exercise, base, client = page
    _follow(user, base, _run(client, base, ("v", "z = 1")), until=_finished(1))
    client.post(base + "kernel/restart")
    events = _follow(user, base, _run(client, base, ("v", "z")), until=_finished(1))
    assert any(o.get("ename") == "NameError" for o in _outputs(events))
    # when the learner's code kills its own kernel
    suicide = "import os\nos._exit(1)"
    events = _follow(
        user, base, _run(client, base, ("k", suicide)),
        until=lambda evs: any(e.get("state") == "dead" for e in evs),
    )  # fmt: skip
    # then the page is told, and no session is left behind
    assert any(e["type"] == "kernel" and e["state"] == "dead" for e in events)
    assert interactive.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None


def test_a_restart_during_a_running_cell_ends_it_and_the_next_run_works(worker, page) -> None:
    user, _exercise, base, client = page
    # when the learner restarts while a cell sleeps
    events = _follow(
        user, base, _run(client, base, ("s", SLEEPS)), _printed("s", "sleeping\n"),
        lambda: client.post(base + "kernel/restart"),
        until=_finished(1),
    )  # fmt: skip
    # then that cell ends, and a fresh kernel answers the next run
    assert {"type": "kernel", "state": "restarted"} in events
    after = _follow(user, base, _run(client, base, ("n", "1+1")), until=_finished(1))
    assert {"type": "text", "text": "2"} in _outputs(after)


def test_an_idle_session_is_culled_with_a_message(worker, page) -> None:
    user, exercise, base, client = page
    _follow(user, base, _run(client, base, ("c", "1")), until=_finished(1))
    events = _follow(
        user, base, lambda: interactive.sessions_cull_idle(idle_s=0),
        until=lambda evs: any(e.get("state") == "culled" for e in evs),
    )  # fmt: skip
    assert {"type": "kernel", "state": "culled"} in events
    assert interactive.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None
