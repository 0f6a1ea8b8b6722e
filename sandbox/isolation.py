"""What a sandbox is made of: the checks that refuse to run without isolation, the
kernel's environment, the rlimits, and the bubblewrap command line."""

from __future__ import annotations

import functools
import os
import shlex
import shutil
from pathlib import Path

from sandbox import environments, runtime, slots, state
from sandbox.limits import Limits, SandboxInfraError

KERNEL_DIR = "/kernel"  # the kernel's private directory, as seen inside the sandbox
HOME = "/home/learner"
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own private tmpfs
MIB = 1024 * 1024
# Virtual address space is not memory: ipykernel's threads and numpy reserve far more than
# they touch. RLIMIT_AS is only a backstop above the cgroup limit.
ADDRESS_SPACE_HEADROOM = 2048 * MIB
READ_ONLY_ETC = ("ld.so.cache", "localtime", "nsswitch.conf", "alternatives", "fonts")
MPLCONFIGDIR = f"{HOME}/.config/matplotlib"


def insecure_local() -> bool:
    """`SANDBOX_INSECURE_LOCAL=1`: no isolation at all, for development machines only."""
    return os.environ.get("SANDBOX_INSECURE_LOCAL", "") == "1"


def kernel_environment(
    *, home: str = HOME, tmp: str = SANDBOX_TMP, runtime_dir: Path | None = None
) -> dict[str, str]:
    """The whole environment of a kernel: nothing is inherited from the worker."""
    bin_dir = (runtime_dir or runtime.runtime_path()) / "bin"
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "learner",
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
    }


def rlimits(limits: Limits) -> dict[str, tuple[int, int]]:
    """Backstop rlimits as (soft, hard), keyed by `prlimit`'s option names."""
    memory = limits.memory_mb * MIB
    return {
        "as": (memory + ADDRESS_SPACE_HEADROOM, memory + ADDRESS_SPACE_HEADROOM),
        "cpu": (limits.cpu_seconds, limits.cpu_seconds + 1),
        "fsize": (limits.file_size_mb * MIB, limits.file_size_mb * MIB),
        "nproc": (limits.processes, limits.processes),
        "nofile": (1024, 1024),
        "core": (0, 0),
    }


def prlimit_args(limits: Limits) -> list[str]:
    # prlimit ignores K/M/G suffixes: always bytes.
    args = ["prlimit"]
    for name, (soft, hard) in rlimits(limits).items():
        args.append(f"--{name}={soft}:{hard}")
    return [*args, "--"]


@functools.cache
def preflight() -> None:
    """check_isolation(), once per process."""
    check_isolation()


def check_isolation() -> None:
    """Raise SandboxInfraError naming what is missing before any kernel starts."""
    if insecure_local():
        return
    missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        raise SandboxInfraError(
            f"cannot isolate kernels: {', '.join(missing)} not found "
            "(apt-get install bubblewrap util-linux), or set SANDBOX_INSECURE_LOCAL=1 "
            "on a development machine"
        )
    if os.geteuid() != 0:
        raise SandboxInfraError(
            "cannot isolate kernels: the worker must run as root to start each kernel under "
            "its own unprivileged slot uid (or set SANDBOX_INSECURE_LOCAL=1 for development)"
        )
    userns = Path("/proc/sys/user/max_user_namespaces")
    if userns.exists() and userns.read_text().strip() == "0":
        raise SandboxInfraError("cannot isolate kernels: user namespaces are disabled")
    clone = Path("/proc/sys/kernel/unprivileged_userns_clone")
    if clone.exists() and clone.read_text().strip() == "0":
        raise SandboxInfraError(
            "cannot isolate kernels: unprivileged user namespaces are disabled "
            "(sysctl kernel.unprivileged_userns_clone=1)"
        )
    if not Path("/proc/self/ns/net").exists():
        raise SandboxInfraError("cannot isolate kernels: this kernel lacks namespaces")
    check_runtime()


def check_runtime(runtime_dir: Path | None = None) -> None:
    if runtime_dir is not None and not environments.is_complete(runtime_dir):
        raise SandboxInfraError(f"the course runtime at {runtime_dir} is not built")
    if not runtime.runtime_python().exists():
        raise SandboxInfraError(
            f"the kernel runtime is missing at {runtime.runtime_path()}: "
            "run `python -m sandbox build-runtime`"
        )


def write_identity_files() -> Path:
    """passwd and group files naming every slot uid "learner", bound read-only inside."""
    etc = slots.prepare_run_base() / "etc"
    etc.mkdir(exist_ok=True)
    etc.chmod(0o755)
    uids = range(slots.uid_base(), slots.uid_base() + slots.uid_count())
    passwd = "".join(f"learner:x:{uid}:{uid}::{HOME}:/usr/sbin/nologin\n" for uid in uids)
    group = "".join(f"learner:x:{uid}:\n" for uid in uids)
    for name, text in (("passwd", passwd), ("group", group)):
        path = etc / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        path.chmod(0o644)
    return etc


# stdout and stderr in bounded messages (kernel_outstream.py, installed in the runtime).
KERNEL_OPTIONS = (
    "--HistoryManager.enabled=False",
    "--IPKernelApp.outstream_class=kernel_outstream.ChunkedOutStream",
    # text-only displays for a request that asks for them (kernel_displays.py)
    "--IPKernelApp.extra_extensions=kernel_displays",
    # no debug records per request (kernel_overhead.py)
    "--IPKernelApp.extra_extensions=kernel_overhead",
    # an interrupt the main thread missed is repeated until raised (kernel_interrupt.py)
    "--IPKernelApp.extra_extensions=kernel_interrupt",
    # ipykernel sleeps 0.5 ms before each reply, against outputs arriving after it; our
    # clients wait for the idle status, which follows every output
    "--Kernel._execute_sleep=0",
)


def kernel_argv(connection_file: str, *, runtime_dir: Path | None = None) -> list[str]:
    python = str(runtime.runtime_python(runtime_dir))
    return [python, "-m", "ipykernel_launcher", "-f", connection_file, *KERNEL_OPTIONS]


GATEWAY_INSIDE = "/run/gateway"


def gateway_dir() -> Path | None:
    """The model gateway's socket directory on the host (`SANDBOX_GATEWAY_DIR`), if any."""
    configured = os.environ.get("SANDBOX_GATEWAY_DIR")
    if not configured or not Path(configured).is_dir():
        return None
    return Path(configured).absolute()


def gateway_bind_args() -> list[str]:
    """The gateway's socket directory, read-only at /run/gateway: learner code can connect
    to the socket (the gateway knows it by its uid) but change nothing there."""
    directory = gateway_dir()
    if directory is None:
        return []
    if (closed := state.closed_folder(directory)) is not None:
        # bwrap runs as the slot uid: it could not bind the directory, and no kernel would start.
        raise SandboxInfraError(
            f"SANDBOX_GATEWAY_DIR {directory} is not reachable by the sandbox uids: "
            f"{closed} does not let other users through (see GATEWAY_SOCKET_DIR)"
        )
    return ["--perms", "0755", "--dir", "/run", "--ro-bind", str(directory), GATEWAY_INSIDE]


def runtime_bind_args(runtime_dir: Path | None = None) -> list[str]:
    """Bind the runtime (a course runtime: it and the kernel runtime under it) read-only at
    its own path; its parents traversable by any uid (bwrap as root would make them 0700)."""
    args = []
    for folder in environments.runtime_folders(runtime_dir):
        for parent in reversed(folder.parents[:-1]):
            args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(folder), str(folder)]
    return args


def bwrap_args(
    *,
    limits: Limits,
    host_dir: Path,
    etc_dir: Path,
    seccomp_fd: int,
    runtime_dir: Path | None = None,
) -> list[str]:
    """bwrap options for one kernel; run as the slot uid, never as root."""
    tmpfs = str(limits.tmpfs_mb * MIB)
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    args += ["--new-session"]
    args += ["--cap-drop", "ALL", "--hostname", "sandbox"]
    args += ["--ro-bind", "/usr", "/usr", *runtime_bind_args(runtime_dir)]
    for link in ("lib", "lib64", "bin", "sbin"):
        if Path("/", link).is_symlink():
            args += ["--symlink", f"usr/{link}", f"/{link}"]
    for name in READ_ONLY_ETC:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd"]
    args += ["--ro-bind", str(etc_dir / "group"), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for mount_point in ("/tmp", HOME, "/dev/shm"):  # noqa: S108 - the sandbox's own
        args += ["--size", tmpfs, "--perms", "0700", "--tmpfs", mount_point]
    for cache in runtime.font_cache_files(runtime_dir):
        args += ["--ro-bind", str(cache), f"{MPLCONFIGDIR}/{cache.name}"]
    args += gateway_bind_args()
    args += ["--bind", str(host_dir), KERNEL_DIR, "--chdir", HOME]
    args += ["--seccomp", str(seccomp_fd), "--"]
    return args


def join_cgroup_then(procs_files: list[Path], argv: list[str]) -> list[str]:
    """Wrap argv in a shell that moves itself into the cgroup, then execs it.

    The move happens before exec, so nothing the kernel starts escapes the limits.
    """
    moves = "".join(f"echo $$ > {shlex.quote(str(path))} && " for path in procs_files)
    return ["/bin/sh", "-c", f'{moves}exec "$@"', "sandbox-start", *argv]


def setpriv_args(uid: int) -> list[str]:
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--no-new-privs",
        "--",
    ]
