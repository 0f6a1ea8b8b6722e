"""Kernels forked from a pre-imported zygote: ~5x cheaper to make than a fresh ipykernel.

The zygote (zygote_server.py, under the kernel runtime's Python) runs as root inside
bubblewrap with a filesystem that shows only the runtime. It is started from its own
long-lived thread, so its parent-death signal holds as long as this worker lives.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from sandbox import cgroups, client, environments, isolation, runtime, seccomp, slots
from sandbox.hostdir import CONNECTION_FILE, make_host_dir, new_cgroup, remove_host_dir
from sandbox.isolation import HOME, MIB
from sandbox.kernel import Kernel
from sandbox.limits import Limits, SandboxInfraError
from sandbox.trusted import helper

SERVER = Path(__file__).resolve().parent / "zygote_server.py"
SERVER_INSIDE = "/opt/sandbox/zygote_server.py"
PRELOAD = SERVER.with_name("zygote_preload.py")  # imported by the server
PRELOAD_INSIDE = "/opt/sandbox/zygote_preload.py"
HUGE_PAGES = SERVER.with_name("huge_pages.py")  # imported by the server
HUGE_PAGES_INSIDE = "/opt/sandbox/huge_pages.py"
LEAN_KERNEL = SERVER.with_name("lean_kernel.py")  # imported by the server
LEAN_KERNEL_INSIDE = "/opt/sandbox/lean_kernel.py"
# nbgrader grades a notebook with this in its environment (courses.grading.pipeline): a
# grading kernel starts with it, rather than each grading setting it by one more request.
GRADING_ENVIRONMENT = {"NBGRADER_EXECUTION": "autograde"}
RUN_DIR_INSIDE = "/run/sandbox"
START_TIMEOUT_S = 60.0


def max_forks() -> int:
    """Children share the zygote's address-space layout: a fresh zygote now and then."""
    return int(os.environ.get("SANDBOX_ZYGOTE_MAX_FORKS", "1000"))


# What learners' notebooks import (the data-science stack, the model client): imported once
# in the zygote, so a fresh kernel pays nothing for them (numpy + pandas + matplotlib + scipy
# + scikit-learn cost a cold kernel about 1.5 CPU-s), and the inline backend a first figure
# imports (zygote_preload.RUN_AGAIN_IN_EACH_KERNEL). Modules absent from the runtime are
# skipped.
DEFAULT_PRELOAD = (
    "numpy,numpy.random,pandas,matplotlib,matplotlib.pyplot,matplotlib_inline,"
    "scipy,scipy.stats,scipy.optimize,scipy.linalg,sympy,"
    "sklearn,sklearn.base,sklearn.datasets,sklearn.model_selection,sklearn.neighbors,"
    "sklearn.pipeline,sklearn.preprocessing,sklearn.linear_model,sklearn.metrics,"
    "open_models"
)


def preload() -> list[str]:
    return [m for m in os.environ.get("SANDBOX_ZYGOTE_PRELOAD", DEFAULT_PRELOAD).split(",") if m]


def _readable(fd: int, timeout_s: float) -> bool:
    """Whether `fd` is readable within `timeout_s` (a pidfd is once its process exited).
    poll, not select: a worker holding hundreds of kernels has descriptors above 1024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(int(timeout_s * 1000)))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class PidfdProcess:
    """A forked kernel's pid 1, held by pidfd: no pid-reuse race once opened."""

    def __init__(self, pid: int, group: cgroups.Cgroup | None) -> None:
        self.pidfd = os.pidfd_open(pid)
        self.group = group

    def is_alive(self) -> bool:
        if self.pidfd < 0:
            return False
        return not _readable(self.pidfd, 0)

    def kill_now(self) -> None:
        if self.pidfd >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def kill(self) -> None:
        """Kill the kernel and everything it started, and wait until they are gone."""
        if self.pidfd < 0:
            return
        with contextlib.suppress(ProcessLookupError):
            # Killing pid 1 of its namespace kills every process in it, and pid 1 exits
            # once they are gone: waiting on its pidfd costs nothing, where looking at the
            # cgroup again and again until it empties cost ms of the worker's CPU.
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        _readable(self.pidfd, 2.0)
        if self.group is not None:
            self.group.kill_all()  # whatever is left, should anything be
        # Forgotten before it is closed: is_alive() must never select on a number reused.
        pidfd, self.pidfd = self.pidfd, -1
        os.close(pidfd)


class Zygote:
    def __init__(self, runtime_dir: Path | None = None, *, grading: bool = False) -> None:
        """`runtime_dir`: a course runtime whose kernels it forks (sandbox.course_zygotes);
        it runs the kernel runtime's interpreter all the same (zygote_preload.py).
        `grading`: it forks grading kernels only (zygote_config)."""
        self.runtime_dir = runtime_dir
        self.grading = grading
        self.config: dict[str, Any] = {}  # sent when it starts
        self.popen: subprocess.Popen[bytes] | None = None
        self.replies: IO[str] | None = None
        self.forks = 0
        self.pid = 0
        self.lock = threading.Lock()
        # Its children see the gateway directory it was started with: a change needs a new one.
        self.gateway_dir = isolation.gateway_dir()

    def start(self) -> None:
        """Start the zygote from a dedicated thread that stays alive as long as it runs."""
        started = threading.Event()
        failure: list[BaseException] = []

        def keeper() -> None:
            try:
                self._spawn()
            except BaseException as error:
                failure.append(error)
                started.set()
                return
            started.set()
            assert self.popen is not None
            self.popen.wait()  # this thread is the zygote's parent for its whole life

        threading.Thread(target=keeper, name="sandbox-zygote", daemon=True).start()
        if not started.wait(START_TIMEOUT_S):
            raise SandboxInfraError("the sandbox zygote did not start in time")
        if failure:
            raise failure[0]

    def _spawn(self) -> None:
        log = open(slots.prepare_run_base() / "zygote.log", "ab")  # noqa: SIM115
        self.popen = subprocess.Popen(
            zygote_argv(self.runtime_dir),
            env=isolation.kernel_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd="/",
        )
        log.close()
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.replies = open(self.popen.stdout.fileno(), closefd=False)  # noqa: SIM115
        self.config = zygote_config(self.runtime_dir, grading=self.grading)
        self._send(self.config)
        reply = self._receive()
        if not reply.get("ready"):
            raise SandboxInfraError(f"the sandbox zygote failed to start: {reply}")
        self.pid = int(reply["pid"])

    def _send(self, message: dict[str, Any]) -> None:
        assert self.popen is not None and self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(message).encode() + b"\n")
        self.popen.stdin.flush()

    def _receive(self) -> dict[str, Any]:
        assert self.replies is not None
        line = self.replies.readline()
        if not line:
            tail = (slots.run_base() / "zygote.log").read_text(errors="replace")[-1500:]
            raise SandboxInfraError(f"the sandbox zygote exited: {tail}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def is_alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def fork(self, request: dict[str, Any]) -> int:
        with self.lock:
            try:
                self._send({"op": "fork", **request})
                reply = self._receive()
            except (OSError, ValueError) as error:
                raise SandboxInfraError(f"the sandbox zygote failed: {error}") from error
            self.forks += 1
        if "pid" not in reply:
            raise SandboxInfraError(f"the sandbox zygote could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def has_children(self) -> bool:
        """Whether kernels it forked still live (they die with it); one dead but not yet
        reaped by the zygote (it reaps every second) does not count."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return False
        return any(_alive(int(pid)) for pid in children.split())

    def stop(self) -> None:
        """Kill the zygote, and with it every kernel it forked."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        for stream in (self.popen.stdin, self.popen.stdout, self.replies):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def zygote_config(runtime_dir: Path | None = None, *, grading: bool = False) -> dict[str, Any]:
    """What the zygote is sent first. A zygote of grading kernels also holds its memory in
    huge pages (huge_pages.py: each kernel's fork and exit cost less; not for live sessions,
    whose cells it slowed), gives its kernels GRADING_ENVIRONMENT and runs them without
    ipykernel's event loop and threads (lean_kernel.py: one client, one request at a time;
    live sessions keep the stock kernel, with its stdin channel and streamed output)."""
    home_files = {}
    for cache in runtime.font_cache_files(runtime_dir):
        home_files[f".config/matplotlib/{cache.name}"] = cache.read_text()
    low = slots.uid_base()
    return {
        "seccomp": seccomp.filter_bpf().hex(),
        "uid_range": [low, low + slots.uid_count()],
        "home": HOME,
        "home_files": home_files,
        "env": isolation.kernel_environment() | (GRADING_ENVIRONMENT if grading else {}),
        "kernel_args": list(isolation.KERNEL_OPTIONS),
        "preload": preload(),
        "huge_pages": grading,
        "lean_kernel": grading,
        # Each grading kernel is sent the trusted helper (sandbox.trusted.helper): defined
        # here once, it costs a kernel 5 ms of CPU less (its 160-KiB loader, parsed and run).
        "modules_from_source": [helper.module_from_source()] if grading else [],
        "code_paths": [SERVER_INSIDE, PRELOAD_INSIDE, HUGE_PAGES_INSIDE, LEAN_KERNEL_INSIDE],
        "course": course_config(runtime_dir) if runtime_dir is not None else None,
    }


def course_config(runtime_dir: Path) -> dict[str, Any]:
    """What a course runtime's kernels change (zygote_preload.enter_course_runtime), and the
    names of its modules, never preloaded in the zygote."""
    return {
        "site": str(runtime.site_packages(runtime_dir)),
        "python": str(runtime.runtime_python(runtime_dir)),
        "prefix": str(runtime_dir),
        "env": isolation.kernel_environment(runtime_dir=runtime_dir),
        "modules": environments.module_names(runtime_dir),
    }


def zygote_argv(runtime_dir: Path | None = None) -> list[str]:
    """bwrap as root, keeping capabilities: the zygote needs them to isolate its children."""
    etc_dir = isolation.write_identity_files()
    args = ["bwrap", "--die-with-parent", "--new-session", "--cap-add", "ALL"]
    args += ["--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    # Directories bwrap makes as root are 0700: the slot uids must traverse these.
    args += ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/home"]
    args += ["--ro-bind", "/usr", "/usr", *isolation.runtime_bind_args(runtime_dir)]
    for link in ("lib", "lib64", "bin", "sbin"):
        if Path("/", link).is_symlink():
            args += ["--symlink", f"usr/{link}", f"/{link}"]
    for name in isolation.READ_ONLY_ETC:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd"]
    args += ["--ro-bind", str(etc_dir / "group"), "/etc/group"]
    args += ["--dev", "/dev", "--dir", "/proc", "--dir", "/tmp"]  # noqa: S108
    args += ["--dir", HOME]
    args += isolation.gateway_bind_args()
    args += ["--dir", "/kernel", "--ro-bind", str(SERVER), SERVER_INSIDE]
    args += ["--ro-bind", str(PRELOAD), PRELOAD_INSIDE]
    args += ["--ro-bind", str(HUGE_PAGES), HUGE_PAGES_INSIDE]
    args += ["--ro-bind", str(LEAN_KERNEL), LEAN_KERNEL_INSIDE]
    args += ["--bind", str(slots.prepare_run_base()), RUN_DIR_INSIDE]
    for index, base in enumerate(cgroups.base_dirs()):
        base.mkdir(exist_ok=True)
        args += ["--bind", str(base), f"/cg/{index}"]
    args += ["--chdir", "/", "--", str(runtime.runtime_python()), "-s", SERVER_INSIDE]
    return args


# This process's zygotes of the kernel runtime: one for live sessions (and tests), one for
# grading kernels (a worker process usually has one of the two).
_zygotes: dict[bool, Zygote] = {}
_retired: list[Zygote] = []
_zygote_lock = threading.Lock()


def get_zygote(*, grading: bool = False) -> Zygote:
    with _zygote_lock:
        for old in [z for z in _retired if not z.has_children()]:
            old.stop()
            _retired.remove(old)
        current = _zygotes.pop(grading, None)
        if current is not None and not current.is_alive():
            current.stop()
            current = None
        if current is not None and (
            current.forks >= max_forks() or current.gateway_dir != isolation.gateway_dir()
        ):
            # Its kernels die with it: it is stopped once the last one is gone.
            _retired.append(current)
            current = None
        if current is None:
            isolation.preflight()
            current = Zygote(grading=grading)
            current.start()
        _zygotes[grading] = current
        return current


def stop_zygote() -> None:
    """Stop the zygotes of this process, killing every kernel they forked."""
    with _zygote_lock:
        for zygote in [*_retired, *_zygotes.values()]:
            zygote.stop()
        _retired.clear()
        _zygotes.clear()


def start_kernel(*, limits: Limits, source: Zygote | None = None, grading: bool = False) -> Kernel:
    """A kernel forked from `source` (a course runtime's zygote), else from this process's
    zygote of grading kernels or of the others."""
    zygote = source or get_zygote(grading=grading)
    lease = slots.lease_uid()
    host_dir, group = None, None
    try:
        host_dir = make_host_dir(lease, limits)
        key = client.new_key()
        info_inside = client.connection_info(ip=f"{isolation.KERNEL_DIR}/k", key=key)
        path = host_dir / CONNECTION_FILE
        path.write_text(json.dumps(info_inside))
        os.chown(path, lease.uid, lease.uid)
        path.chmod(0o600)
        group = new_cgroup(lease, limits)
        pid = zygote.fork(
            {
                "name": host_dir.name,
                "uid": lease.uid,
                "cgroups": [group.dirs[0].name] * len(group.dirs) if group else [],
                "tmpfs_bytes": limits.tmpfs_mb * MIB,
                "rlimits": isolation.rlimits(limits),
            }
        )
        return Kernel(
            process=PidfdProcess(pid, group),
            info=client.connection_info(ip=str(host_dir / "k"), key=key),
            limits=limits,
            host_dir=host_dir,
            kernel_dir=isolation.KERNEL_DIR,
            cgroup=group,
            lease=lease,
            environment=zygote.config["env"],
            modules_from_source=[module["name"] for module in zygote.config["modules_from_source"]],
        )
    except BaseException:
        if group is not None:
            group.destroy()
        if host_dir is not None:
            remove_host_dir(host_dir)
        lease.release()
        raise
