"""Database connections are bounded per process, and a request that cannot get one in time
is told to come back (503 with Retry-After), never shown a server error."""

import json
import sqlite3
import threading

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from psycopg_pool import PoolTimeout

from config import capacity
from config.unavailable import server_error


def _raised_from_pool_timeout():
    # The shape Django gives it: its own OperationalError, caused by the pool's timeout.
    try:
        raise PoolTimeout("couldn't get a connection after 10.00 sec")
    except PoolTimeout as error:
        raise OperationalError("couldn't get a connection") from error


def _handled(request):
    try:
        _raised_from_pool_timeout()
    except OperationalError:
        return server_error(request)


def test_a_page_request_without_a_free_connection_gets_a_503_page_that_says_to_retry() -> None:
    request = RequestFactory().get("/courses/", HTTP_ACCEPT="text/html")
    response = _handled(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"try again in a few seconds" in response.content
    assert b"<main" in response.content  # in the site's layout


def test_an_api_request_without_a_free_connection_gets_a_json_503() -> None:
    request = RequestFactory().post(
        "/courses/x/y/exercises/z/submit", data="{}", content_type="application/json"
    )
    response = _handled(request)
    assert response.status_code == 503
    assert "try again" in json.loads(response.content)["error"]


def test_a_request_that_waited_too_long_for_sqlites_write_lock_gets_a_503_too() -> None:
    request = RequestFactory().post(
        "/courses/x/y/exercises/z/submit", data="{}", content_type="application/json"
    )
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as error:
            raise OperationalError("database is locked") from error
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_any_other_error_is_still_a_500() -> None:
    request = RequestFactory().get("/courses/", HTTP_ACCEPT="text/html")
    try:
        raise OperationalError("disk I/O error")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 500


def test_the_connection_budget_is_shared_by_the_processes_of_a_host(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_CONNECTION_BUDGET", "40")
    monkeypatch.setenv("WEB_WORKERS", "2")
    monkeypatch.setenv("GRADING_CONCURRENCY", "2")
    monkeypatch.setenv("INTERACTIVE_WORKERS", "1")
    monkeypatch.delenv("DATABASE_PROCESSES", raising=False)
    monkeypatch.delenv("DATABASE_POOL_MAX_SIZE", raising=False)
    # web 2 + grading 2 + interactive, beat, gateway = 7 processes
    assert capacity.database_processes() == 7
    assert capacity.database_pool_max_size() == 5
    assert capacity.database_pool_max_size() * capacity.database_processes() <= 40


def test_the_web_processes_get_what_the_others_of_the_host_may_not_hold(monkeypatch) -> None:
    # given: make run's processes on a 2-core host, each told its role
    for name, value in [
        ("DATABASE_CONNECTION_BUDGET", "40"),
        ("WEB_WORKERS", "2"),
        ("GRADING_CONCURRENCY", "2"),
        ("INTERACTIVE_WORKERS", "2"),
    ]:
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_POOL_MAX_SIZE", raising=False)
    sizes = {}
    for role in ("web", "grading", "interactive", "beat", "gateway"):
        monkeypatch.setenv("DATABASE_ROLE", role)
        sizes[role] = capacity.database_pool_max_size()
    # then: all of them together stay within the budget (the grading worker's parent too)
    held = (
        2 * sizes["web"]
        + 3 * sizes["grading"]
        + 2 * sizes["interactive"]
        + sizes["beat"]
        + sizes["gateway"]
    )
    assert held <= 40
    # and a web process, which takes a class's submits, holds twice an even share or more
    monkeypatch.delenv("DATABASE_ROLE")
    assert sizes["web"] >= 2 * capacity.database_pool_max_size()


def test_web_workers_default_to_the_cores_this_process_may_use(monkeypatch) -> None:
    monkeypatch.delenv("WEB_WORKERS", raising=False)
    assert capacity.web_workers() == capacity.cores()
    monkeypatch.setenv("WEB_WORKERS", "3")
    assert capacity.web_workers() == 3


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_request_waits_for_the_pool_then_gets_a_503_not_a_500(user) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool exists on PostgreSQL only (.ci/run runs this there)")
    # given: a logged-in learner, and every connection of this process's pool held
    client = Client(raise_request_exception=False)
    client.force_login(user)
    pool = connection.pool
    connection.close()  # our own connection goes back: the pool is all there is
    timeout, pool.timeout = pool.timeout, 0.3
    held = [pool.getconn(timeout=5) for _ in range(pool.max_size)]
    responses = []
    try:
        # when: a page reads the session (in its own thread: its own Django connection)
        thread = threading.Thread(
            target=lambda: responses.append(client.get("/courses/", HTTP_ACCEPT="text/html"))
        )
        thread.start()
        thread.join(timeout=30)
    finally:
        for held_connection in held:
            pool.putconn(held_connection)
        pool.timeout = timeout
    # then: the page says to come back, and the pool never opened more than its bound
    assert responses[0].status_code == 503
    assert responses[0]["Retry-After"] == "5"
    assert pool.get_stats()["pool_size"] <= pool.max_size
