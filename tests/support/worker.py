"""A real Celery worker in a subprocess, against the test process's own Redis and database."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from kombu.exceptions import OperationalError

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


def database_url(*, host: str | None = None, port: int | None = None) -> str:
    """The test database's URL for a worker (reached at `host`:`port` when given)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host, port = host or db["HOST"] or "", port or db["PORT"] or 5432
    return f"postgresql://{db['USER'] or ''}@{host}:{port}/{db['NAME']}"


@contextmanager
def celery_worker(
    *,
    queues: str = "default,grading,interactive",
    pool: str = "solo",
    name: str | None = None,
    env: dict[str, str] | None = None,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`wrap` turns the worker's command into the one to run (another host's, say)."""
    extra_env, env = env, dict(os.environ)
    # the worker uses this test process's Redis and gateway socket folder
    env.pop("OSTP_TEST_REDIS_PID", None)
    env.pop("OSTP_TEST_GATEWAY_PID", None)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        DJANGO_SETTINGS_MODULE="config.settings_test",
        REDIS_URL=settings.REDIS_URL,
        DATABASE_URL=database_url(),
        VAR_DIR=str(settings.VAR_DIR),
    )
    env.update(extra_env or {})
    name = name or f"test-{os.getpid()}@localhost"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-P",
        pool,
        "-Q",
        queues,
        "-n",
        name,
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]
    process = subprocess.Popen(wrap(command) if wrap else command, cwd=ROOT, env=env)
    try:
        _wait_until_ready(name, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(name: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300  # only bounds a failure: wait for its answer
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {process.returncode}")
        try:
            replies = app.control.ping(destination=[name], timeout=0.5) or []
        except (redis.ConnectionError, OperationalError):  # a pooled connection to a Redis
            replies = []  # that restarted (tests that stop it) fails once, then reconnects
        if replies:
            return
    raise RuntimeError("the Celery worker did not answer within 300 s")
