"""The live kernel, for real: HTTP run request → Celery (a real `-P threads` worker, real
Redis) → the learner's sandboxed kernel session → sanitised outputs over SSE."""

import pytest

from courses.exercises.services import exercise_create
from courses.learn import sessions
from tests.support.exercises import add_exercise, as_json
from tests.support.sessions import finished, follow, outputs, printed, run
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
    pytest.mark.usefixtures("no_workers_known"),
]


@pytest.fixture(scope="module")
def worker(django_db_setup):
    with celery_worker(queues="interactive", pool="threads"):
        yield


def test_a_cell_runs_in_the_learners_kernel_and_its_outputs_stream_back(worker, page) -> None:
    user, exercise, base, client = page
    # when two cells run, the second using the first's variable
    events = follow(
        user, base, run(client, base, ("a", "x = 40\nprint('hello')"), ("b", "x + 2")),
        until=finished(2),
    )  # fmt: skip
    # then the session kept its state between cells and the outputs came back in order
    by_cell = [(e["cell"], e["output"]) for e in events if e["type"] == "output"]
    assert ("a", {"type": "stream", "name": "stdout", "text": "hello\n"}) in by_cell
    assert ("b", {"type": "text", "text": "42"}) in by_cell
    states = [e["state"] for e in events if e["type"] == "run" and e["state"] != "running"]
    assert states == ["done", "done"]
    assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk)


def test_an_error_skips_the_next_cells_and_html_is_sanitised(worker, page) -> None:
    user, _exercise, base, client = page
    code = "from IPython.display import HTML\nHTML('<b>bold</b><script>alert(1)</script>')"
    events = follow(
        user, base, run(client, base, ("h", code), ("e", "1/0"), ("n", "1")),
        until=finished(3),
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
    events = follow(user, base, run(client, base, ("p", code)), until=finished(1))
    images = [o for o in outputs(events) if o["type"] == "image"]
    assert len(images) == 1 and images[0]["png"].startswith("iVBORw0KGgo")


SLEEPS = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)"


def test_interrupt_stops_a_running_cell_and_the_session_lives_on(worker, page) -> None:
    user, _exercise, base, client = page
    follow(user, base, run(client, base, ("w", "y = 5")), until=finished(1))
    # when a sleeping cell is interrupted
    events = follow(
        user, base, run(client, base, ("s", SLEEPS)), printed("s", "sleeping\n"),
        lambda: client.post(base + "kernel/interrupt"),
        until=finished(1),
    )  # fmt: skip
    # then the interrupt stopped it (not the cell's time limit), and the variables remain
    assert [o["ename"] for o in outputs(events) if "ename" in o] == ["KeyboardInterrupt"]
    after = follow(user, base, run(client, base, ("check", "y")), until=finished(1))
    assert {"type": "text", "text": "5"} in outputs(after)


def test_a_restart_clears_the_kernel_and_a_dead_kernel_is_reported(worker, page) -> None:
    user, exercise, base, client = page
    follow(user, base, run(client, base, ("v", "z = 1")), until=finished(1))
    client.post(base + "kernel/restart")
    events = follow(user, base, run(client, base, ("v", "z")), until=finished(1))
    assert any(o.get("ename") == "NameError" for o in outputs(events))
    # when the learner's code kills its own kernel
    suicide = "import os\nos._exit(1)"
    events = follow(
        user, base, run(client, base, ("k", suicide)),
        until=lambda evs: any(e.get("state") == "dead" for e in evs),
    )  # fmt: skip
    # then the page is told, and no session is left behind
    assert any(e["type"] == "kernel" and e["state"] == "dead" for e in events)
    assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None


def test_a_restart_during_a_running_cell_ends_it_and_the_next_run_works(worker, page) -> None:
    user, _exercise, base, client = page
    # when the learner restarts while a cell sleeps
    events = follow(
        user, base, run(client, base, ("s", SLEEPS)), printed("s", "sleeping\n"),
        lambda: client.post(base + "kernel/restart"),
        until=finished(1),
    )  # fmt: skip
    # then that cell ends, and a fresh kernel answers the next run
    assert {"type": "kernel", "state": "restarted"} in events
    after = follow(user, base, run(client, base, ("n", "1+1")), until=finished(1))
    assert {"type": "text", "text": "2"} in outputs(after)


def test_an_idle_session_is_culled_with_a_message(worker, page) -> None:
    user, exercise, base, client = page
    follow(user, base, run(client, base, ("c", "1")), until=finished(1))
    events = follow(
        user, base, lambda: sessions.sessions_cull_idle(idle_s=0),
        until=lambda evs: any(e.get("state") == "culled" for e in evs),
    )  # fmt: skip
    assert {"type": "kernel", "state": "culled"} in events
    assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None


def test_a_third_live_kernel_closes_the_learners_least_recently_used(worker, page) -> None:
    user, first, base, client = page
    # given the learner runs cells in two exercises, the first one used longest ago
    others = [
        exercise_create(module=first.module, title=f"Add {n}", slug=f"add-{n}",
                        notebook=as_json(add_exercise()))
        for n in (2, 3)
    ]  # fmt: skip
    bases = [base.replace("/add/", f"/{other.slug}/") for other in others]
    follow(user, base, run(client, base, ("a", "1")), until=finished(1))
    follow(user, bases[0], run(client, bases[0], ("a", "2")), until=finished(1))
    # when a third exercise's kernel starts
    events = follow(
        user, base, run(client, bases[1], ("a", "3")),
        until=lambda evs: any(e.get("state") == "evicted" for e in evs),
    )  # fmt: skip
    # then the first page is told why its kernel closed, and the two recent ones live on
    assert {"type": "kernel", "state": "evicted", "limit": 2} in events
    held = [
        sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk)
        for exercise in (first, *others)
    ]
    assert held[0] is None and held[1] and held[2]
