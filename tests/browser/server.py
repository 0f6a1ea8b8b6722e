"""The real web server (uvicorn, ASGI: SSE needs it) in a subprocess, against the test
process's own database and Redis, like tests/worker.py does for Celery."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from tests.support.worker import ROOT, database_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def web_server(env_extra: dict[str, str] | None = None) -> Iterator[str]:
    """Yields the server's base URL; `env_extra`: settings the test gives its worker too."""
    port = _free_port()
    env = dict(os.environ)
    env.pop("OSTP_TEST_REDIS_PID", None)  # the server uses this test process's Redis
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        DJANGO_SETTINGS_MODULE="config.settings_test",
        REDIS_URL=settings.REDIS_URL,
        DATABASE_URL=database_url(),
        VAR_DIR=str(settings.VAR_DIR),
        **(env_extra or {}),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "config.serve", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300  # only bounds a failure: wait for it to answer
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web server did not answer within 300 s")
