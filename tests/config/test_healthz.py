import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_a_dead_worker_as_unhealthy_with_503(client, settings) -> None:
    # No Celery worker runs in this test: the ping task cannot come back.
    settings.HEALTH_CELERY_TIMEOUT_S = 0.5
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["ok"] is False
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["celery"]["ok"] is False
    assert "Timeout" in body["celery"]["error"]


def test_healthz_reports_redis_down(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.HEALTH_CELERY_TIMEOUT_S = 0.2
    body = client.get("/healthz").json()
    assert body["redis"]["ok"] is False
    assert "ConnectionError" in body["redis"]["error"]
