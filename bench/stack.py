"""The whole platform, started for a benchmark in a throwaway folder: Redis, a Celery
worker, the web server (uvicorn), a fresh SQLite database with a course, a cohort and
learners. Figures measured against it go through the real path, HTTP included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from config.capacity import web_workers as web_count  # noqa: E402
from config.embedded_redis import free_port, start_redis  # noqa: E402
from config.launch import web_argv  # noqa: E402


@dataclass
class Stack:
    url: str
    port: int
    env: dict[str, str]

    def django(self) -> None:
        """Set up Django in this process against the stack's database and Redis."""
        os.environ.update(self.env)
        import django

        django.setup()


GRADING_WORKER = ["-Q", "grading,interactive,default", "--concurrency", "2"]


@contextmanager
def platform_stack(
    *,
    worker: list[str] = GRADING_WORKER,
    pool_size: int = 2,
    seed_demo: bool = False,
    env_extra: dict[str, str] | None = None,
    web_workers: int | None = None,
    more_workers: tuple[list[str], ...] = (),
) -> Iterator[Stack]:
    """The platform in a throwaway folder; `worker` is the Celery worker's options (it must
    consume `default`: the health check pings through it); `more_workers`, the options of
    each other worker process."""
    var = Path(tempfile.mkdtemp(prefix="ostp-bench-"))
    # Its own gateway socket folder, which kernels (other uids) bind: /tmp lets them through.
    var.chmod(0o755)
    redis = start_redis(data_dir=var / "redis", persist=False)
    port = free_port()
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(var),
        GATEWAY_SOCKET_DIR=str(var / "gateway"),
        REDIS_URL=redis.url,
        HTTPS="0",
        LOG_LEVEL="WARNING",
        SANDBOX_POOL_SIZE=str(pool_size),
        PYTHONUNBUFFERED="1",
        **(env_extra or {}),
    )
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    # Hashed static names come from the manifest collectstatic writes.
    subprocess.run(
        [python, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    if seed_demo:
        subprocess.run([python, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True)
    celery = [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING"]
    web_workers = web_workers or web_count()
    procs = [
        *(
            subprocess.Popen(
                [*celery, *options, "--without-gossip", "--without-mingle"],
                cwd=ROOT,
                env={**env, "DATABASE_ROLE": "grading"},  # as make run starts them
                stdout=subprocess.DEVNULL,
            )
            for options in (worker, *more_workers)
        ),
        subprocess.Popen(
            [
                *web_argv(python, host="127.0.0.1", port=port, workers=web_workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**env, "DATABASE_ROLE": "web", "WEB_WORKERS": str(web_workers)},
        ),
    ]
    stack = Stack(url=f"http://127.0.0.1:{port}", port=port, env=env)
    try:
        _wait_for(f"{stack.url}/healthz", timeout_s=90)
        yield stack
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.stop()


def _wait_for(url: str, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if json.loads(response.read()).get("ok"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not report healthy within {timeout_s} s")


class Browser:
    """A logged-in HTTP client (session cookie + CSRF), standard library only."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def _csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "") or ""

    def login(self, email: str, password: str) -> None:
        self.opener.open(f"{self.base_url}/accounts/login/").read()
        body = urllib.parse.urlencode(
            {"login": email, "password": password, "csrfmiddlewaretoken": self._csrf()}
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/accounts/login/", data=body, headers={"Referer": self.base_url}
        )
        self.opener.open(request).read()
        if not any(c.name == "sessionid" for c in self.jar):
            raise RuntimeError(f"could not log in as {email}")

    def post_json(self, path: str, data: Any) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(data).encode(),
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self._csrf(),
                "Referer": self.base_url,
            },
        )
        with self.opener.open(request) as response:
            return json.loads(response.read())

    def get_json(self, path: str) -> Any:
        with self.opener.open(f"{self.base_url}{path}") as response:
            return json.loads(response.read())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_results(name: str, figures: dict[str, Any]) -> Path:
    out = ROOT / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2, sort_keys=True))
    print(f"written to {out.relative_to(ROOT)}")
    return out
