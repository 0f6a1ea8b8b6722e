"""`make run`: every process of the platform on one machine, supervised, stopped together
by Ctrl-C.

Starts the embedded Redis (unless REDIS_URL is given), a grading worker, the interactive
workers (INTERACTIVE_WORKERS, config.capacity), Celery beat, the model gateway and the web
server, waits until the web answers, then prints how to log in.
A service that dies is started again after a backoff (0.5 s, doubling up to 30 s); one that
dies RESTART_LIMIT times within CRASH_WINDOW_S is crash-looping: then everything stops
with a message naming it. The state of each service is written to VAR_DIR/services.json,
which /healthz reports.
"""

import argparse
import contextlib
import ctypes
import json
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
from config.embedded_redis import start_redis

ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 15
# What the other services use until they have stopped: stopped once they have.
STOPPED_LAST = ("redis",)
RESTART_LIMIT = 5
CRASH_WINDOW_S = 60.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass
class Service:
    name: str
    argv: list[str]
    # What this process's environment adds to the launcher's (its DATABASE_ROLE).
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    # Supervision: when it died lately, and when it is due to start again.
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None

    def state(self) -> str:
        if self.restart_at is not None:
            return "restarting"
        return "running" if self.process and self.process.poll() is None else "stopped"


class CrashLoop(Exception):
    """A service keeps dying: the message names it."""


@dataclass
class Launcher:
    env: dict[str, str]
    services: list[Service] = field(default_factory=list)
    stopping: bool = False
    status_file: Path | None = None
    clock: Callable[[], float] = time.monotonic
    # How a dead service is started again (the embedded Redis has its own).
    respawn: dict[str, Callable[[], subprocess.Popen[bytes]]] = field(default_factory=dict)

    def start(self, service: Service) -> None:
        service.process = self._spawn(service)
        self.services.append(service)

    def _spawn(self, service: Service) -> subprocess.Popen[bytes]:
        if service.name in self.respawn:
            return self.respawn[service.name]()
        env = {**self.env, **service.env}
        return subprocess.Popen(service.argv, cwd=ROOT, env=env, preexec_fn=_child_setup)

    def first_dead(self) -> Service | None:
        return next((s for s in self.services if s.process and s.process.poll() is not None), None)

    def supervise(self) -> None:
        """One round: note the services that died, start those whose backoff is over.
        Raises CrashLoop when one died RESTART_LIMIT times within CRASH_WINDOW_S."""
        now = self.clock()
        for service in self.services:
            if (
                service.restart_at is None
                and service.process
                and service.process.poll() is not None
            ):
                self._schedule_restart(service, now)
            if service.restart_at is not None and now >= service.restart_at:
                service.restart_at = None
                try:
                    service.process = self._spawn(service)
                except (OSError, RuntimeError) as exc:
                    print(f"The {service.name} service could not start: {exc}", file=sys.stderr)
                    self._schedule_restart(service, now)
                    continue
                print(f"The {service.name} service started again.", flush=True)
        self.write_status()

    def _schedule_restart(self, service: Service, now: float) -> None:
        code = service.process.returncode if service.process else None
        service.deaths = [t for t in service.deaths if now - t < CRASH_WINDOW_S] + [now]
        if len(service.deaths) >= RESTART_LIMIT:
            raise CrashLoop(
                f"The {service.name} service exited {len(service.deaths)} times within "
                f"{CRASH_WINDOW_S:.0f} s (last exit code {code}): it is crash-looping, so the "
                "platform stops. Its output above says why."
            )
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (len(service.deaths) - 1))
        service.restart_at = now + delay
        print(
            f"The {service.name} service exited ({code}); starting it again in {delay:g} s.",
            file=sys.stderr,
            flush=True,
        )

    def write_status(self) -> None:
        if self.status_file is None:
            return
        status = {
            s.name: {
                "state": s.state(),
                "pid": s.process.pid if s.process else None,
                "restarts": len(s.deaths),
            }
            for s in self.services
        }
        temporary = self.status_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(status))
        temporary.replace(self.status_file)

    def stop_all(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        print("\nStopping the platform…", flush=True)
        # Redis last: the workers and the gateway still use it while they stop (a live
        # session tells its page the kernel is gone, the gateway flushes its usage).
        services = list(reversed(self.services))
        self._stop([s for s in services if s.name not in STOPPED_LAST])
        self._stop([s for s in services if s.name in STOPPED_LAST])
        if self.status_file:
            self.status_file.unlink(missing_ok=True)
        print("Stopped.", flush=True)

    def _stop(self, services: list[Service]) -> None:
        """Each service's own process is told to stop, and stops its children itself
        (Celery its pool and kernels, uvicorn its workers, the gateway its engine): none of
        them takes a child that a signal to the whole group killed first for a crash
        ("the engine exited; starting it again"). Whatever is left in its process group
        once it is gone, or when the grace runs out, is killed."""
        for service in services:
            if service.process and service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for service in services:
            if service.process is None:
                continue
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {service.name} did not stop in {STOP_GRACE_S} s: killing it", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def _child_setup() -> None:
    # Own process group, so stop_all kills what a service leaves behind (Celery's pool), and
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


def interactive_threads() -> int:
    """Threads of the interactive worker: one per cell running at once (an idle session
    holds none), with room for an interrupt or a restart while every thread is busy."""
    return int(os.environ.get("INTERACTIVE_WORKER_THREADS", "64"))


def interactive_service(celery: list[str], number: int) -> Service:
    """Interactive worker `number` (from 1): `interactive`, `interactive-2`, ..."""
    suffix = "" if number == 1 else f"-{number}"
    return Service(
        f"interactive{suffix}",
        [
            *celery,
            "worker",
            "-P",
            "threads",
            "-Q",
            "interactive",
            "-n",
            f"interactive{suffix}@%h",
            "--concurrency",
            str(interactive_threads()),
            "--loglevel",
            "INFO",
        ],
        env={"DATABASE_ROLE": "interactive"},
    )


def service_specs(
    python: str,
    *,
    host: str,
    port: int,
    var_dir: Path,
    web_workers: int,
    concurrency: int,
    interactive_workers: int = 1,
) -> list[Service]:
    """The platform's processes, by name (supervised by Launcher)."""
    celery = [python, "-m", "celery", "-A", "config"]
    return [
        Service(
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
            env={"DATABASE_ROLE": "grading"},
        ),
        # Interactive sessions: a kernel lives in the worker process that started it, so
        # these workers run tasks in threads of one process (an interrupt runs beside the
        # busy cell); each one's worker-direct queue (interactive@<host>.dq) reaches its
        # sessions. Several per host (config.capacity.interactive_workers).
        *(interactive_service(celery, number) for number in range(1, interactive_workers + 1)),
        Service(
            "beat",
            [*celery, "beat", "--loglevel", "INFO", "-s", str(var_dir / "celerybeat-schedule")],
            env={"DATABASE_ROLE": "beat"},
        ),
        # The model gateway loads the embedded all-MiniLM-L6-v2 once, then serves sandboxes on
        # GATEWAY_SOCKET_DIR/gateway.sock and people on GATEWAY_PORT.
        Service(
            "gateway",
            [python, str(ROOT / "manage.py"), "run_gateway"],
            env={"DATABASE_ROLE": "gateway"},
        ),
        Service(
            "web",
            web_argv(python, host=host, port=port, workers=web_workers),
            env={"DATABASE_ROLE": "web"},
        ),
    ]


def web_argv(python: str, *, host: str, port: int, workers: int) -> list[str]:
    """uvicorn with one process per core: a Django process runs Python on one core at a
    time (the GIL), so one process leaves the others idle however many threads it has."""
    return [
        python,
        "-m",
        "config.serve",  # uvicorn, with slow-client limits
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


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--concurrency", type=int, default=capacity.grading_concurrency())
    parser.add_argument("--web-workers", type=int, default=capacity.web_workers())
    parser.add_argument("--interactive-workers", type=int, default=capacity.interactive_workers())
    return parser.parse_args()


def _services_env() -> dict[str, str]:
    """The environment every service starts with: this one, with the project importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "platform")])
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.setdefault("HTTPS", "0")  # plain HTTP on localhost; production terminates TLS
    env["PYTHONUNBUFFERED"] = "1"
    return env


def main() -> int:
    args = _arguments()
    var_dir = Path(os.environ.get("VAR_DIR", ROOT / "var"))
    env = _services_env()
    launcher = Launcher(env=env, status_file=var_dir / "services.json")

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not env.get("REDIS_URL"):
            _start_embedded_redis(launcher, var_dir)
        specs = service_specs(
            sys.executable,
            host=args.host,
            port=args.port,
            var_dir=var_dir,
            web_workers=args.web_workers,
            concurrency=args.concurrency,
            interactive_workers=args.interactive_workers,
        )
        # Every process sizes its database pool from the same counts (config.capacity):
        # web, grading and interactive processes, plus beat and the gateway.
        processes = args.web_workers + args.concurrency + len(specs) - 2
        env.setdefault("DATABASE_PROCESSES", str(processes))
        env.setdefault("WEB_WORKERS", str(args.web_workers))
        env.setdefault("GRADING_CONCURRENCY", str(args.concurrency))
        env.setdefault("INTERACTIVE_WORKERS", str(args.interactive_workers))
        for service in specs:
            launcher.start(service)
        url = f"http://{args.host}:{args.port}"
        if not _wait_for_http(
            f"{url}/accounts/login/", timeout_s=120, alive=lambda: launcher.first_dead() is None
        ):
            dead = launcher.first_dead()
            print(f"The {dead.name if dead else 'web'} service failed to start.", file=sys.stderr)
            return 1
        print(_banner(url, env.get("DEMO_PASSWORD", "open-science")), flush=True)
        while True:
            launcher.supervise()
            time.sleep(0.5)
    except CrashLoop as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        launcher.stop_all()


def _start_embedded_redis(launcher: Launcher, var_dir: Path) -> None:
    """Redis as a supervised service: started again on the same port, from its append-only
    file, so the broker's queues survive its restart."""
    redis = start_redis(data_dir=var_dir / "redis", persist=True)
    launcher.env["REDIS_URL"] = redis.url
    launcher.respawn["redis"] = lambda: (
        start_redis(data_dir=var_dir / "redis", persist=True, port=redis.port).process
    )
    launcher.services.append(Service("redis", [], process=redis.process))
    print(f"Embedded Redis on {redis.url}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
