"""`make run`: every process of the platform on one machine, stopped together by Ctrl-C.

Starts the embedded Redis (unless REDIS_URL is given), a Celery worker, Celery beat, the
model gateway and the web server, waits until the web answers, then prints how to log in.
When any of them dies the others are stopped too, so a half-running platform never
pretends to be healthy.
"""

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config import capacity
from config.embedded_redis import EmbeddedRedis, start_redis

ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 15


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the platform: what to run. A list of these is the whole platform."""

    name: str
    argv: list[str]


@dataclass
class Service:
    spec: ServiceSpec
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Launcher:
    env: dict[str, str]
    services: list[Service] = field(default_factory=list)
    redis: EmbeddedRedis | None = None
    stopping: bool = False

    def start(self, spec: ServiceSpec) -> None:
        process = subprocess.Popen(spec.argv, cwd=ROOT, env=self.env, preexec_fn=_child_setup)
        self.services.append(Service(spec, process))

    def first_dead(self) -> Service | None:
        return next((s for s in self.services if s.process and s.process.poll() is not None), None)

    def stop_all(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        print("\nStopping the platform…", flush=True)
        for service in reversed(self.services):
            if service.process and service.process.poll() is None:
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for service in reversed(self.services):
            if service.process is None:
                continue
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {service.name} did not stop in {STOP_GRACE_S} s: killing it", flush=True)
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
        if self.redis:
            self.redis.stop()
        print("Stopped.", flush=True)


def _child_setup() -> None:
    # Own process group, so stop_all reaches a service's children too (Celery's pool), and
    # PDEATHSIG, so a SIGKILLed launcher still takes its services down: no orphans.
    os.setpgid(0, 0)
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _wait_for_http(url: str, *, timeout_s: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own localhost URL)
                return True
        except OSError:
            time.sleep(0.3)
    return False


def service_specs(
    python: str, *, host: str, port: int, var_dir: Path, web_workers: int, concurrency: int
) -> list[ServiceSpec]:
    celery = [python, "-m", "celery", "-A", "config"]
    return [
        ServiceSpec(
            "worker",
            [
                *celery,
                "worker",
                "-Q",
                "grading,default",
                "-n",
                "worker@%h",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
            ],
        ),
        # Interactive sessions: a kernel lives in the worker process that started it, so
        # this worker runs tasks in threads of one process (an interrupt runs beside the
        # busy cell); its worker-direct queue (interactive@<host>.dq) reaches its sessions.
        # More threads than INTERACTIVE_MAX_SESSIONS (16): an interrupt or a restart must
        # find a free thread while every session runs a cell.
        ServiceSpec(
            "interactive",
            [
                *celery,
                "worker",
                "-P",
                "threads",
                "-Q",
                "interactive",
                "-n",
                "interactive@%h",
                "--concurrency",
                "32",
                "--loglevel",
                "INFO",
            ],
        ),
        ServiceSpec(
            "beat",
            [*celery, "beat", "--loglevel", "INFO", "-s", str(var_dir / "celerybeat-schedule")],
        ),
        # The model gateway loads the embedded all-MiniLM-L6-v2 once, then serves sandboxes on
        # GATEWAY_SOCKET_DIR/gateway.sock and people on GATEWAY_PORT.
        ServiceSpec("gateway", [python, str(ROOT / "manage.py"), "run_gateway"]),
        ServiceSpec("web", web_argv(python, host=host, port=port, workers=web_workers)),
    ]


def web_argv(python: str, *, host: str, port: int, workers: int) -> list[str]:
    """uvicorn with one process per core: a Django process runs Python on one core at a
    time (the GIL), so one process leaves the others idle however many threads it has."""
    return [
        python,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]


def _banner(url: str, password: str) -> str:
    return "\n".join(
        [
            "",
            "=" * 64,
            f"  Open Science Training is running at {url}",
            "",
            "  Log in with one of the demo accounts:",
            f"    student@demo.edu     password: {password}",
            f"    instructor@demo.edu  password: {password}",
            f"    admin@demo.edu       password: {password}  (university admin, superuser)",
            "",
            f"  Health: {url}/healthz      Stop: Ctrl-C",
            "=" * 64,
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--concurrency", type=int, default=capacity.grading_concurrency())
    parser.add_argument("--web-workers", type=int, default=capacity.web_workers())
    args = parser.parse_args()

    var_dir = Path(os.environ.get("VAR_DIR", ROOT / "var"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "platform")])
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.setdefault("HTTPS", "0")  # plain HTTP on localhost; production terminates TLS
    env["PYTHONUNBUFFERED"] = "1"
    launcher = Launcher(env=env)

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not env.get("REDIS_URL"):
            launcher.redis = start_redis(data_dir=var_dir / "redis", persist=True)
            env["REDIS_URL"] = launcher.redis.url
            print(f"Embedded Redis on {launcher.redis.url}", flush=True)
        specs = service_specs(
            sys.executable,
            host=args.host,
            port=args.port,
            var_dir=var_dir,
            web_workers=args.web_workers,
            concurrency=args.concurrency,
        )
        # Every process sizes its database pool from the same count (config.capacity).
        env.setdefault(
            "DATABASE_PROCESSES", str(args.web_workers + args.concurrency + len(specs) - 2)
        )
        for spec in specs:
            launcher.start(spec)
        url = f"http://{args.host}:{args.port}"
        if not _wait_for_http(
            f"{url}/accounts/login/", timeout_s=120, alive=lambda: launcher.first_dead() is None
        ):
            dead = launcher.first_dead()
            print(f"The {dead.name if dead else 'web'} service failed to start.", file=sys.stderr)
            return 1
        print(_banner(url, env.get("DEMO_PASSWORD", "open-science")), flush=True)
        while (dead := launcher.first_dead()) is None:
            time.sleep(0.5)
        print(
            f"The {dead.name} service exited ({dead.process.returncode if dead.process else '?'}).",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        launcher.stop_all()


if __name__ == "__main__":
    sys.exit(main())
