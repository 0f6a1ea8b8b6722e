"""A Celery worker keeps its SQLite connection from task to task (config.celery)."""

import pytest
from django.db import connection, connections

from config import celery


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_sqlite_connection_from_task_to_task(monkeypatch) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL connections are kept by the pool")
    # given: the web's setting (a connection per request), then a worker starts
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    celery._keep_sqlite_connections()
    connection.close()
    connection.ensure_connection()
    held = connection.connection
    # when a task ends (Celery's Django fixup closes connections that are too old)
    connection.close_if_unusable_or_obsolete()
    # then the next task uses the same connection
    assert connection.connection is held
