"""The zygote: a root process that pre-imports ipykernel and forks isolated kernels.

Runs inside bubblewrap (as root, all capabilities, in a mount namespace that shows only
the runtime), under the KERNEL RUNTIME's Python: standard library and ipykernel only,
nothing from the `sandbox` package. Its memory is every kernel's memory, so it holds no
secret: a clean environment, no keys, no tests or answers.

Protocol: one JSON object per line on stdin; one JSON reply per line on the original
stdout (fd 1 is pointed at stderr, so stray prints cannot corrupt replies).
First line: the configuration. Then {"op": "fork", ...} -> {"pid": host pid} | {"error"}.

Each kernel: unshare(NEWPID) then fork -> pid 1 of a new pid namespace, which joins its
cgroups, unshares mount/net/ipc/uts/cgroup, mounts its own /proc and tmpfs, binds its
kernel dir, brings loopback up, sets rlimits, drops to the slot uid, loads seccomp, then
starts the kernel in that same process.

ipykernel is imported inside functions on purpose: in the zygote only once its clean
environment is in place (and after the configured preloads), in a warm-up child to learn
what a kernel imports, in each kernel after its own environment is set.

What it preloads, and how a course runtime's zygote differs: zygote_preload.py.
"""

import contextlib
import ctypes
import fcntl
import gc
import json
import os
import random
import resource
import select
import signal
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any, NoReturn

import huge_pages  # bound beside this file
import lean_kernel  # bound beside this file
import zygote_preload  # bound beside this file

Config = dict[str, Any]  # the first line the worker sends
Request = dict[str, Any]  # one {"op": "fork", ...} line

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC = 2, 4, 8, 4096, 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 4, 38, 22
SECCOMP_MODE_FILTER = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP, IFF_RUNNING = 0x8913, 0x8914, 0x1, 0x40
RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}
RUN_DIR = "/run/sandbox"  # the worker's run base, bound here; hidden from each kernel
CGROUP_DIR = "/cg"  # the worker's per-controller sandbox cgroup dirs, bound as /cg/<n>

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source: str, target: str, fstype: str, flags: int, options: str | None = None) -> None:
    data = options.encode() if options else None
    check(libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data), target)


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]  # fmt: skip


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def load_seccomp(bpf: bytes) -> None:
    count = len(bpf) // ctypes.sizeof(SockFilter)
    program = (SockFilter * count).from_buffer_copy(bpf)
    fprog = SockFprog(count, ctypes.cast(program, ctypes.POINTER(SockFilter)))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP | IFF_RUNNING))


def isolate(config: Config, request: Request) -> None:
    """In pid 1 of the new pid namespace, still root: build this kernel's world."""
    uid = request["uid"]
    for index, name in enumerate(request["cgroups"]):
        with open(f"{CGROUP_DIR}/{index}/{name}/cgroup.procs", "w") as procs:
            procs.write("0")
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                       | CLONE_NEWCGROUP), "unshare")  # fmt: skip
    mount("none", "/", "none", MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    size = request["tmpfs_bytes"]
    for target in ("/tmp", config["home"], "/dev/shm"):  # noqa: S108 - per-kernel tmpfs
        options = f"size={size},mode=0700,uid={uid},gid={uid}"
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)
    mount(f"{RUN_DIR}/{request['name']}", "/kernel", "none", MS_BIND | MS_REC)
    # Nothing of the other kernels (their dirs, their cgroups) stays in this namespace.
    check(libc.umount2(RUN_DIR.encode(), MNT_DETACH), "umount run dir")
    for index in range(len(request["cgroups"])):
        check(libc.umount2(f"{CGROUP_DIR}/{index}".encode(), MNT_DETACH), "umount cgroup")
    for path in config["code_paths"]:
        check(libc.umount2(path.encode(), MNT_DETACH), "umount zygote code")
    socket.sethostname("sandbox")
    loopback_up()
    write_home_files(config, uid)
    log = os.open("/kernel/kernel.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchown(log, uid, uid)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 65536)  # the zygote's pipes above all: they could ask for root kernels
    for name, (soft, hard) in request["rlimits"].items():
        resource.setrlimit(RLIMITS[name], (soft, hard))
    os.chdir(config["home"])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # Changing uid without exec left us non-dumpable (/proc/self owned by root): restore
    # what an exec'd kernel has. ptrace stays refused by seccomp, core dumps by rlimit.
    check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    # The uid change also cleared the parent-death signal: die with the zygote again.
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    load_seccomp(bytes.fromhex(config["seccomp"]))


def write_home_files(config: Config, uid: int) -> None:
    for relative, text in config["home_files"].items():
        path = os.path.join(config["home"], relative)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        with open(path, "w") as file:
            file.write(text)
        while directory.startswith(config["home"] + "/"):
            os.chown(directory, uid, uid)
            directory = os.path.dirname(directory)
        os.chown(path, uid, uid)


def reseed() -> None:
    """Children of one zygote would otherwise draw the same 'random' numbers."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def run_kernel(config: Config) -> None:
    reseed()
    os.environ.clear()
    os.environ.update(config["env"])
    if config.get("course"):
        zygote_preload.enter_course_runtime(config["course"])
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    lean = False
    if PRE_INITIALIZED and app.profile_dir is not None:
        lean = bool(config.get("lean_kernel"))
        # The profile directory was made in the zygote's home, hidden by this kernel's.
        os.makedirs(app.profile_dir.location, exist_ok=True)
        app.profile_dir.check_dirs()
        finish_initialize(app, lean=lean)
    else:
        app.initialize(["-f", "/kernel/connection.json", *config["kernel_args"]])
    use_kernel_matplotlib_backend()
    if lean:
        lean_kernel.serve(app)
    app.start()


def load_matplotlib_backends() -> None:
    """The first time a process names a backend such as "inline", matplotlib reads every
    installed package's entry points (~5 ms of each kernel's start): read once, here."""
    rcsetup = sys.modules.get("matplotlib.rcsetup")
    if rcsetup is not None:
        with contextlib.suppress(ValueError):  # no "inline" backend installed: none to read
            rcsetup.validate_backend("inline")


def use_kernel_matplotlib_backend() -> None:
    """matplotlib was imported in the zygote with Agg; the kernel's choice (MPLBACKEND, set
    by ipykernel to its inline backend) applies from the first figure on."""
    matplotlib = sys.modules.get("matplotlib")
    backend = os.environ.get("MPLBACKEND")
    if matplotlib is not None and backend:
        matplotlib.rcParams["backend"] = backend


PRE_INITIALIZED = False
PRE_INITIALIZED_VERSION = "7.4.0"  # finish_initialize copies this ipykernel's sequence


def pre_initialize(config: Config) -> None:
    """In the zygote: the command line, config files and profile, the same for every kernel
    (about a third of a kernel's start). Each kernel finishes with finish_initialize."""
    global PRE_INITIALIZED
    import ipykernel
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication

    if ipykernel.__version__ != PRE_INITIALIZED_VERSION:
        return
    app = IPKernelApp.instance()
    BaseIPythonApplication.initialize(
        app, ["-f", "/kernel/connection.json", *config["kernel_args"]]
    )
    # The application's Session (a traitlets object: 1-1.5 ms to make), keyless here (a new
    # Session draws a random key: none is kept where every kernel can read it); each kernel
    # makes it its own (own_session).
    app.session.key = b""
    make_shell(app)
    ZYGOTE_MODULES.update(sys.modules)
    PRE_INITIALIZED = True


def make_shell(app: Any) -> None:
    """The kernel's IPython shell, made once here rather than in each kernel: making it
    took 7-10 ms of a kernel's ~24 ms of start-up CPU (traitlets, magics, prefilters,
    completer), and what it allocates is now shared. ipykernel's kernel asks for its shell
    by `instance()`, which returns this one; adopt_shell hands it to the kernel."""
    from ipykernel.compiler import XCachingCompiler
    from ipykernel.zmqshell import ZMQInteractiveShell

    shell = ZMQInteractiveShell.instance(
        parent=app, profile_dir=app.profile_dir, compiler_class=XCachingCompiler
    )
    # What the shell builds at a kernel's first cell, built here: its display formatters
    # (0.3-0.5 ms: every result and display goes through them) and the module of its
    # session logger (0.5 ms to import).
    if shell.display_formatter is not None:
        _ = shell.display_formatter.active_types
    import IPython.core.logger  # noqa: F401

    # What each kernel's start made the same way in every kernel, made here: IPython's
    # default extensions (storemagic's %store: 1.5 ms), loaded into this shell (a kernel's
    # init_extensions finds them loaded), and ipykernel's comm manager, one per process,
    # empty until a learner's widget opens a comm (0.6 ms).
    from ipykernel.ipkernel import _get_comm_manager

    if shell.extension_manager is not None:
        for extension in app.default_extensions:
            shell.extension_manager.load_extension(extension)
    _get_comm_manager()


def adopt_shell(app: Any) -> None:
    """In the kernel: what making the shell here would have set differently."""
    shell = app.kernel.shell
    shell.parent = shell.kernel = app.kernel
    shell.init_environment()  # run_kernel replaced the zygote's environment
    shell.starting_dir = os.getcwd()
    shell.history_manager.dir_hist[:] = [shell.starting_dir]


def own_session(app: Any) -> None:
    """What the zygote's Session and connection settings become in this kernel: its own
    session id (every message names it), its own pid (a Session refuses to send from a
    process other than the one that made it, as after a fork), a random key until its
    connection file gives the real one, and the directory of that file, /kernel (the default
    is found by searching Jupyter's runtime directories, about 1 ms of each start)."""
    from jupyter_client.session import new_id, new_id_bytes

    app.session.session = new_id()
    app.session.pid = os.getpid()
    app.session.key = new_id_bytes()  # as a new Session's, until the connection file's
    app.connection_dir = os.path.dirname(app.connection_file)


def finish_initialize(app: Any, *, lean: bool) -> None:
    """IPKernelApp.initialize (ipykernel 7.4.0) after its super().initialize(); `lean`, for
    lean_kernel.serve."""
    app.init_pdb()
    app.init_blackhole()
    own_session(app)
    app.init_connection_file()
    app.init_poller()
    if lean:
        lean_kernel.init_sockets(app)
    else:
        app.init_sockets()
        without_shell_channel_thread(app)
    # No heartbeat (a zmq context, its IO thread and a thread running a zmq device, ~2 ms
    # of each start): our clients never ping it; a kernel's life is its process's.
    app.write_connection_file()
    app.log_connection_info()
    if lean:
        lean_kernel.init_io(app)
    else:
        app.init_io()
    app.init_signal()
    with modules_unlisted("ipykernel.ipkernel"):
        if lean:
            lean_kernel.init_kernel(app)
        else:
            app.init_kernel()
    adopt_shell(app)
    app.init_path()
    app.init_shell()
    if app.shell:
        app.init_gui_pylab()
        app.init_extensions()
        with modules_unlisted("IPython.core.shellapp"):
            app.init_code()
        # What `%reset --aggressive` keeps: the modules every kernel starts with.
        app.shell._sys_modules_keys = ZYGOTE_MODULES
    sys.stdout.flush()
    sys.stderr.flush()


def without_shell_channel_thread(app: Any) -> None:
    """ipykernel 7 receives shell requests in a thread of their own, which hands each to the
    main thread through an inproc socket: a thread switch and two more messages per request
    (0.2-0.3 ms of a short cell's 2 ms of kernel CPU). The thread serves kernel subshells
    only (JEP 91), which our clients never ask for; without it ipykernel reads the shell
    socket on its main loop, as ipykernel 6 did, and answers a subshell request with an
    error."""
    from ipykernel.kernelbase import Kernel

    channel = app.shell_channel_thread
    app.shell_channel_thread = NoShellChannelThread()
    channel.io_loop.close(all_fds=True)
    # ipykernel tells subshell support by `is not None`; this thread is there, but falsy.
    Kernel._supports_kernel_subshells = property(lambda kernel: False)  # type: ignore[method-assign,assignment]


class NoShellChannelThread:
    """What ipykernel still asks of its shell channel thread once there is none: a cell that
    awaits compares the running thread with the thread cells run on (without an answer, that
    cell's request failed and the learner's cell never ended). It is false wherever ipykernel
    asks whether the thread exists."""

    def __init__(self) -> None:
        self.parent_thread = threading.current_thread()

    def __bool__(self) -> bool:
        return False


ZYGOTE_MODULES: set[str] = set()  # sys.modules' names when the zygote forks (pre_initialize)


class SysWithoutModules:
    """`sys` as a module of ipykernel sees it while a kernel starts: the real one, but with
    no modules to list. Two start-up steps list every module (the debugger's list of
    kernel files, IPython's snapshot for `%reset`): that takes a reference to each of the
    zygote's thousands of modules and their names, and so copies the pages they share
    with it (measured: about 15 MiB per kernel with the data-science preload)."""

    modules: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)


@contextlib.contextmanager
def modules_unlisted(module_name: str) -> Iterator[None]:
    module = sys.modules[module_name]
    module.sys = SysWithoutModules()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.sys = sys  # type: ignore[attr-defined]


def init_process(config: Config, request: Request) -> NoReturn:
    """pid 1 of the kernel's namespace: isolate, then become the kernel.

    No second fork for a separate init: a fork of the zygote's ~90 MiB image costs more
    CPU than the rest of the isolation. Zombies of the learner's own children are bounded
    by the process limit and vanish with the namespace.
    """
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        isolate(config, request)
        run_kernel(config)
    except BaseException as error:
        try:
            os.write(2, f"sandbox zygote child: {error!r}\n".encode())
        finally:
            os._exit(70)
    os._exit(0)


def fork_kernel(config: Config, request: Request) -> dict[str, Any]:
    uid = request["uid"]
    low, high = config["uid_range"]
    if not (low <= uid < high) or uid == 0:
        return {"error": f"uid {uid} is not a sandbox slot uid"}
    if "/" in request["name"] or request["name"].startswith("."):
        return {"error": "bad kernel directory name"}
    check(libc.unshare(CLONE_NEWPID), "unshare pid")
    try:
        pid = os.fork()
        if pid == 0:
            init_process(config, request)
    finally:
        # unshare(CLONE_NEWPID) works once per namespace: return to our own for the next.
        check(libc.setns(config["own_pid_ns"], CLONE_NEWPID), "setns pid")
    return {"pid": pid}


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@contextlib.contextmanager
def proc_mounted() -> Iterator[None]:
    """/proc, only while the zygote reads it: each kernel mounts its own."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    try:
        yield
    finally:
        check(libc.umount2(b"/proc", MNT_DETACH), "umount /proc")


def own_pid_namespace() -> int:
    """An fd on the zygote's pid namespace."""
    with proc_mounted():
        return os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)


def check_single_threaded() -> None:
    """Raise unless this process has one thread, its own. A thread that a preloaded module
    or the warm-up started (Python's, or a library's OpenMP or BLAS pool, which
    threading.enumerate does not see) would be missing in every kernel forked from here: a
    lock it held would stay locked there, and a kernel waiting on it would hang."""
    with proc_mounted():
        threads = os.listdir("/proc/self/task")
    if len(threads) != 1:
        raise RuntimeError(
            f"the zygote runs {len(threads)} threads ({threading.enumerate()}): "
            "it cannot fork kernels"
        )


def share_cheaply(config: Config) -> None:
    """Make what every kernel shares cheap to fork: its objects are not walked (and so
    copied) by the collector of each child; a zygote of grading kernels holds its pages in
    huge pages (huge_pages)."""
    gc.collect()
    gc.freeze()
    if config.get("huge_pages"):
        with proc_mounted(), open("/proc/self/maps") as maps:
            huge_pages.collapse(maps.read())


def serve(config: Config, requests: IO[str], replies: IO[str]) -> None:
    # Strictly one request, then one reply: nothing waits in `requests`' buffer unseen.
    while True:
        ready, _, _ = select.select([requests], [], [], 1.0)
        reap()
        if not ready:
            continue
        line = requests.readline()
        if not line:
            return
        request = json.loads(line)
        try:
            reply = fork_kernel(config, request)
        except OSError as error:
            reply = {"error": str(error)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    requests = os.fdopen(0, "r")
    config = json.loads(requests.readline())
    config["own_pid_ns"] = own_pid_namespace()
    os.environ.clear()
    os.environ.update(config["env"])
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    refused = config["course"]["modules"] if config.get("course") else []
    zygote_preload.preload(config["preload"], config["home_files"], refused)
    zygote_preload.define_modules(config["modules_from_source"])
    if zygote_preload.preload_kernel(config, refused):
        pre_initialize(config)
    load_matplotlib_backends()
    if not config.get("course"):
        zygote_preload.warm_up()
    check_single_threaded()
    share_cheaply(config)
    replies.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    replies.flush()
    serve(config, requests, replies)


if __name__ == "__main__":
    main()
