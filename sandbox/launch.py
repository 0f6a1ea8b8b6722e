"""Starting kernels: under bubblewrap (one exec per kernel), from the forking zygote, or
(explicitly, for development) with no isolation at all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from sandbox import client, isolation, seccomp, slots, zygote
from sandbox.cgroups import Cgroup
from sandbox.course_zygotes import zygotes
from sandbox.environments import RuntimeHold
from sandbox.hostdir import (
    CONNECTION_FILE,
    make_host_dir,
    new_cgroup,
    remove_host_dir,
    write_connection_file,
)
from sandbox.kernel import Kernel
from sandbox.limits import Limits, SandboxInfraError
from sandbox.slots import UidLease

# The kernel's stdout and stderr (bwrap's errors included): read when it fails to start.
LOG_FILE = "kernel.log"


def sandbox_mode() -> str:
    """ "insecure" (SANDBOX_INSECURE_LOCAL=1), else SANDBOX_MODE: "zygote" (default) or
    "bwrap" (one bubblewrap exec per kernel)."""
    if isolation.insecure_local():
        return "insecure"
    mode = os.environ.get("SANDBOX_MODE", "zygote")
    if mode not in ("zygote", "bwrap"):
        raise SandboxInfraError(f"SANDBOX_MODE must be zygote or bwrap, not {mode!r}")
    return mode


def start_kernel(
    *,
    limits: Limits,
    mode: str | None = None,
    wait: bool = True,
    runtime_dir: Path | None = None,
    grading: bool = False,
) -> Kernel:
    """Start one isolated kernel; with `wait`, return it only once it answers.

    `runtime_dir`: a course runtime (sandbox.environments) instead of the kernel runtime.
    Its packages are the instructor's choice, not the platform's: they never load in a
    zygote (root, all capabilities). A course runtime's zygote (sandbox.course_zygotes)
    runs the kernel runtime's interpreter; its kernels load the course's packages once
    they are the slot uid under seccomp.

    `grading`: a kernel that grades, forked (in the zygote mode, kernel runtime) from a
    zygote of grading kernels (sandbox.zygote).
    """
    mode = mode or sandbox_mode()
    # While the kernel lives, its course runtime is not collected (sandbox.environment_gc).
    hold = RuntimeHold(runtime_dir) if runtime_dir is not None else None
    try:
        kernel = _start(limits, mode, runtime_dir, grading)
    except BaseException:
        if hold is not None:
            hold.release()
        raise
    if hold is not None:
        kernel.on_destroyed.append(hold.release)
    if wait:
        try:
            kernel.wait_ready()
        except BaseException:
            kernel.shutdown()
            raise
    return kernel


def _start(limits: Limits, mode: str, runtime_dir: Path | None, grading: bool) -> Kernel:
    if mode == "insecure":
        return _start_insecure(limits, runtime_dir)
    if mode == "bwrap":
        return _start_bwrap(limits, runtime_dir)
    if mode == "zygote" and runtime_dir is not None:
        return zygote.start_kernel(limits=limits, source=zygotes.zygote_for(runtime_dir))
    if mode == "zygote":
        return zygote.start_kernel(limits=limits, grading=grading)
    raise SandboxInfraError(f"unknown sandbox mode {mode!r}")


class PopenProcess:
    """A kernel started with exec; its cgroup (when any) holds everything it forked."""

    def __init__(self, popen: subprocess.Popen[bytes], cgroup: Cgroup | None) -> None:
        self.popen = popen
        self.cgroup = cgroup

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def kill_now(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()

    def kill(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill_all()
        with contextlib.suppress(ProcessLookupError):
            # The insecure kernel leads its own process group; bwrap's dies with its child.
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def _start_bwrap(limits: Limits, runtime_dir: Path | None) -> Kernel:
    isolation.preflight()
    isolation.check_runtime(runtime_dir)
    etc_dir = isolation.write_identity_files()
    lease = slots.lease_uid()
    host_dir, group = None, None
    try:
        host_dir = make_host_dir(lease, limits)
        key = client.new_key()
        write_connection_file(
            host_dir=host_dir,
            info=client.connection_info(ip=f"{isolation.KERNEL_DIR}/k", key=key),
            owner=lease.uid,
        )
        group = new_cgroup(lease, limits)
        seccomp_fd = seccomp.filter_fd()
        argv = [
            *isolation.prlimit_args(limits),
            *isolation.setpriv_args(lease.uid),
            *isolation.bwrap_args(
                limits=limits,
                host_dir=host_dir,
                etc_dir=etc_dir,
                seccomp_fd=seccomp_fd,
                runtime_dir=runtime_dir,
            ),
            *isolation.kernel_argv(
                f"{isolation.KERNEL_DIR}/{CONNECTION_FILE}", runtime_dir=runtime_dir
            ),
        ]
        if group is not None:
            argv = isolation.join_cgroup_then(group.procs_files, argv)
        try:
            with open(host_dir / LOG_FILE, "wb") as log:
                popen = subprocess.Popen(
                    argv,
                    env=isolation.kernel_environment(runtime_dir=runtime_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    pass_fds=(seccomp_fd,),
                    cwd="/",
                )
        finally:
            os.close(seccomp_fd)
        return Kernel(
            process=PopenProcess(popen, group),
            info=client.connection_info(ip=str(host_dir / "k"), key=key),
            limits=limits,
            host_dir=host_dir,
            kernel_dir=isolation.KERNEL_DIR,
            cgroup=group,
            lease=lease,
        )
    except BaseException:
        _undo(group=group, host_dir=host_dir, lease=lease)
        raise


def _undo(*, group: Cgroup | None, host_dir: Path | None, lease: UidLease) -> None:
    if group is not None:
        group.destroy()
    if host_dir is not None:
        remove_host_dir(host_dir)
    lease.release()


def _start_insecure(limits: Limits, runtime_dir: Path | None) -> Kernel:
    """No isolation: the kernel runs as the worker's user with rlimits only."""
    isolation.check_runtime(runtime_dir)
    host_dir = Path(tempfile.mkdtemp(prefix="sbk-"))
    key = client.new_key()
    info = client.connection_info(ip=str(host_dir / "k"), key=key)
    write_connection_file(host_dir=host_dir, info=info, owner=None)
    home = host_dir / "home"
    home.mkdir()
    argv = [
        *isolation.prlimit_args(limits),
        *isolation.kernel_argv(str(host_dir / CONNECTION_FILE), runtime_dir=runtime_dir),
    ]
    popen = subprocess.Popen(
        argv,
        env=isolation.kernel_environment(home=str(home), tmp=str(home), runtime_dir=runtime_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=home,
        start_new_session=True,
    )
    return Kernel(
        process=PopenProcess(popen, None),
        info=info,
        limits=limits,
        host_dir=host_dir,
        kernel_dir=str(host_dir),
        cgroup=None,
        lease=None,
    )
