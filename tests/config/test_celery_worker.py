"""Integration: a real Celery worker and the embedded Redis, no eager mode."""

import pytest

from config.celery import ping
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
]


def test_a_task_makes_the_round_trip_through_redis_and_a_real_worker(client, settings) -> None:
    settings.HEALTH_CELERY_TIMEOUT_S = 300  # the worker answers: only a failure waits this long
    with celery_worker():
        result = ping.apply_async(queue="default")
        assert result.get(timeout=300) == "pong"  # a failure bound only
        body = client.get("/healthz").json()
    # No model gateway runs in this test: reported, but the web stays healthy without it.
    assert body.pop("gateway")["ok"] is False
    assert body.pop("services") == {"ok": True, "supervised": False}  # not under make run
    assert body == {
        "ok": True,
        "database": {"ok": True},
        "redis": {"ok": True},
        "celery": {"ok": True, "round_trip_ms": body["celery"]["round_trip_ms"]},
    }
