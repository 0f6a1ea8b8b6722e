"""Course runtimes: the kernel runtime plus a course's pinned packages, one per set.

A course runtime is a small virtual environment layered on the kernel runtime: its own
site-packages come first on sys.path, the kernel runtime's after (a `.pth` line), so it
holds only what the course's set adds or pins differently. It lives in
`<state>/course-runtimes/<key>`, where the key is the sha256 of the normalised set and of
the kernel runtime it layers on: a course with the same set reuses it, a new kernel runtime
gets new ones.

Building resolves first (pip's resolver, wheels only), so an unknown or conflicting pin is
refused with pip's own message before anything is installed; then it installs the resolved
packages into a temporary folder renamed into place once complete. A course's packages are
the instructor's choice, not the platform's: none of their code runs on the host (no
interpreter of a course runtime starts after its packages are in), and their kernels load
them as the slot uid: started by bubblewrap, or forked from the runtime's own zygote, which
runs the kernel runtime's interpreter and never imports them (sandbox.course_zygotes).
Packages come from one index (`index_url`) and nowhere else: pip runs with no
configuration file and no PIP_* variables.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sandbox import runtime, state
from sandbox.limits import SandboxInfraError, SandboxUserError

NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
# PEP 440 public versions (epoch, release, pre, post, dev); local versions are refused.
VERSION = re.compile(r"^([0-9]+!)?[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?$")
MAX_PINS = 100
STAMP_NAME = ".course-runtime"
BASE_LINK = "_course_runtime_base.pth"
# One lock file a runtime, `<root>/.locks/<key>`: held shared by every kernel (and zygote) of
# the runtime while it lives, exclusively by its build and by its removal; its mtime is when
# the runtime was last used (sandbox.environment_gc removes runtimes unused for long).
LOCKS = ".locks"
PIP_TIMEOUT_S = 1800
Progress = Callable[[str], None]
# The build's own progress lines, each with how far along it is (in percent); pip's
# "Collecting" lines while resolving move it from the first figure towards the next.
STEP_CREATING = "creating the environment"
STEP_RESOLVING = "resolving"
STEP_INSTALLING = "installing"
STEP_READY = "ready"
_STEPS = (
    (STEP_READY, 100),
    ("reusing ", 100),
    ("built concurrently", 100),
    ("Successfully installed", 95),
    ("Installing collected packages", 85),
    (STEP_INSTALLING + " ", 60),
    ("nothing to install", 95),
    (STEP_RESOLVING + " ", 20),
    (STEP_CREATING, 10),
)


@dataclass(frozen=True)
class PinError:
    line: int  # 1-based
    text: str
    problem: str  # "syntax" | "duplicate" | "too_many"


def canonical_name(name: str) -> str:
    """PEP 503: `Scikit_Learn` and `scikit-learn` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> tuple[list[str], list[PinError]]:
    """`name==version` lines (blank lines and `#` comments allowed) → normalised, sorted
    pins and the errors found, one per faulty line."""
    pins: dict[str, str] = {}
    errors: list[PinError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, separator, version = (part.strip() for part in line.partition("=="))
        if not separator or not NAME.match(name) or not VERSION.match(version):
            errors.append(PinError(number, raw.strip(), "syntax"))
        elif canonical_name(name) in pins:
            errors.append(PinError(number, raw.strip(), "duplicate"))
        else:
            pins[canonical_name(name)] = version
    if len(pins) > MAX_PINS:
        errors.append(PinError(0, "", "too_many"))
    return sorted(f"{name}=={version}" for name, version in pins.items()), errors


def requirements_digest(pins: list[str]) -> str:
    """The sha256 of a normalised set: courses with equal sets share one environment."""
    return hashlib.sha256("\n".join(sorted(pins)).encode()).hexdigest()


def environment_key(pins: list[str], *, base: Path | None = None) -> str:
    """Which course runtime serves `pins` on top of the kernel runtime built here."""
    digest = hashlib.sha256(requirements_digest(pins).encode())
    digest.update(runtime.installed_hash(base).encode())
    return digest.hexdigest()


def environments_root() -> Path:
    """`SANDBOX_COURSE_RUNTIMES`, else `course-runtimes` in the state folder."""
    configured = os.environ.get("SANDBOX_COURSE_RUNTIMES")
    return Path(configured).absolute() if configured else state.state_dir() / "course-runtimes"


def environment_path(key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ValueError(f"not an environment key: {key!r}")
    return environments_root() / key


def environment_ready(key: str) -> bool:
    return is_complete(environment_path(key))


def combined_requirements(pins: list[str], base_requirements: str) -> list[str]:
    """The kernel runtime's pins, each replaced by the course's pin of the same project,
    and the course's other pins: the whole set the course's kernels will see."""
    ours = {canonical_name(pin.split("==")[0]): pin for pin in pins}
    combined = []
    for line in base_requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = canonical_name(line.split("==")[0])
            combined.append(ours.pop(name, line))
    return combined + sorted(ours.values())


def build_environment(
    pins: list[str], *, index_url: str, on_progress: Progress | None = None
) -> Path:
    """Build the course runtime for `pins` (a no-op when it exists) and return its path.

    SandboxUserError: pip refused the set (unknown project or version, conflicting pins);
    its message is pip's. SandboxInfraError: anything else went wrong.
    """
    progress = on_progress or (lambda line: None)
    base = runtime.runtime_path()
    key = environment_key(pins, base=base)
    final = environment_path(key)
    if environment_ready(key):
        progress(f"reusing {final.name[:12]}")
        touch_lock(final)
        return final
    state.shared_dir(environments_root())
    with build_lock(final):
        if environment_ready(key):
            progress("built concurrently; using that one")
            return final
        _build(final, pins=pins, base=base, index_url=index_url, progress=progress)
    progress(STEP_READY)
    return final


def _build(final: Path, *, pins: list[str], base: Path, index_url: str, progress: Progress) -> None:
    key = final.name
    building = Path(tempfile.mkdtemp(prefix=f".building-{key[:12]}-", dir=final.parent))
    try:
        _build_into(building, pins=pins, base=base, index_url=index_url, progress=progress)
        (building / STAMP_NAME).write_text(json.dumps({"pins": pins, "base": str(base)}) + "\n")
        runtime.make_readable_by_everyone(building)
        building.chmod(0o755)
        try:
            building.rename(final)  # atomic: kernels never see half an environment
        except OSError:
            if not environment_ready(key):
                raise
            progress("built concurrently elsewhere; using that one")
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _build_into(
    path: Path, *, pins: list[str], base: Path, index_url: str, progress: Progress
) -> None:
    progress(STEP_CREATING)
    # No pip of its own: the kernel runtime's, found through the .pth line below, serves.
    _pip_run([str(runtime.BASE_PYTHON), "-m", "venv", "--without-pip", str(path)], progress)
    python = runtime.runtime_python(path)
    site = runtime.site_packages(path)
    # addsitedir, not a bare path: the kernel runtime's own .pth files are processed too.
    base_site = runtime.site_packages(base)
    (site / BASE_LINK).write_text(f"import site; site.addsitedir({str(base_site)!r})\n")
    combined = combined_requirements(pins, runtime.REQUIREMENTS.read_text())
    progress(f"{STEP_RESOLVING} {len(pins)} pinned packages with the kernel runtime's")
    report = path / "resolution.json"
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    source = ["--index-url", index_url, "--only-binary=:all:"]
    resolve = [*pip, "install", "--dry-run", *source, "--report", str(report)]
    _pip_run([*resolve, *combined], progress, refused=True)
    to_install = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in json.loads(report.read_text()).get("install", [])
    ]
    report.unlink()
    if to_install:
        progress(f"{STEP_INSTALLING} {len(to_install)}: {', '.join(sorted(to_install))}")
        _pip_run([*pip, "install", "--no-deps", *source, *to_install], progress)
    else:
        progress("nothing to install beyond the kernel runtime")
    _copy_font_cache(base, path)


def _copy_font_cache(base: Path, path: Path) -> None:
    """The kernel runtime's matplotlib font cache, copied: building one would run the
    course's packages on the host (a package's .pth file runs at interpreter start). With a
    matplotlib of another version, its kernels build their own in their private home."""
    cache = path / runtime.MATPLOTLIB_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    for font_list in runtime.font_cache_files(base):
        shutil.copyfile(font_list, cache / font_list.name)


def pip_environment() -> dict[str, str]:
    """No configuration file and no PIP_* variable: the index given is the only source."""
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("PIP_CERT", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy", "NO_PROXY"):
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment


def _pip_run(command: list[str], progress: Progress, *, refused: bool = False) -> None:
    """Run a build step, its output lines passed to `progress`; a failure of the resolving
    step is the course's (SandboxUserError with pip's message), any other is ours."""
    process = subprocess.Popen(
        command,
        env=pip_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        line = line.rstrip()
        if line:
            lines.append(line)
            progress(line)
    if process.wait(timeout=PIP_TIMEOUT_S) == 0:
        return
    message = pip_message(lines)
    if refused:
        raise SandboxUserError(message)
    raise SandboxInfraError(f"building the course runtime failed: {message}")


def pip_message(lines: list[str]) -> str:
    """pip's explanation: its ERROR lines, then what caused a conflict (pip prints that on
    stdout, before the errors on stderr)."""
    errors = [line for line in lines if line.startswith("ERROR")]
    cause: list[str] = []
    if "The conflict is caused by:" in lines:
        start = lines.index("The conflict is caused by:")
        for line in lines[start:]:
            if line.startswith(("To fix this", "ERROR")):
                break
            cause.append(line)
    kept = errors + cause
    return "\n".join(kept[-40:]) or "\n".join(lines[-10:]) or "pip failed without a message"


def build_percent(progress: str) -> int:
    """How far along a build is, from the latest of its progress lines (as passed to
    `on_progress`, one a line): 0 before it starts, 100 once ready."""
    collected = 0
    for line in reversed(progress.splitlines()):
        if line.startswith("Collecting "):
            collected += 1
            continue
        for start, percent in _STEPS:
            if line.startswith(start):
                resolving = start == STEP_RESOLVING + " "
                return min(percent + 2 * collected, 55) if resolving else percent
    return 0


def is_complete(path: Path) -> bool:
    return (path / STAMP_NAME).is_file()


def runtime_folders(runtime_dir: Path | None) -> list[Path]:
    """The folders a kernel of `runtime_dir` reads: a course runtime and the kernel runtime
    it layers on; the kernel runtime alone when None."""
    base = runtime.runtime_path().absolute()
    if runtime_dir is None or runtime_dir.absolute() == base:
        return [base]
    return [runtime_dir.absolute(), base]


def lock_file(runtime_dir: Path) -> Path:
    return runtime_dir.parent / LOCKS / runtime_dir.name


def touch_lock(runtime_dir: Path) -> None:
    """Record that the runtime is used now (the lock file's mtime)."""
    lock = lock_file(runtime_dir)
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    lock.touch()


@contextlib.contextmanager
def build_lock(runtime_dir: Path) -> Iterator[None]:
    """Held while the runtime is built: no kernel of it, and no removal, meanwhile."""
    touch_lock(runtime_dir)
    fd = os.open(lock_file(runtime_dir), os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.utime(fd)
        os.close(fd)


class RuntimeHold:
    """A shared lock on a course runtime, for as long as a kernel or zygote of it lives:
    sandbox.environment_gc never removes a runtime held. release() is idempotent."""

    def __init__(self, runtime_dir: Path) -> None:
        touch_lock(runtime_dir)
        self._fd = os.open(lock_file(runtime_dir), os.O_RDWR | os.O_CLOEXEC)
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        if not is_complete(runtime_dir):
            # Removed (or never built) before the lock was ours.
            self.release()
            raise SandboxInfraError(f"the course runtime at {runtime_dir} is not built")

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.utime(fd)  # last used: now
            os.close(fd)


def module_names(runtime_dir: Path) -> list[str]:
    """The top-level modules the course runtime's own site-packages hold (read from the
    folder's names: nothing of the course is run to learn them)."""
    names = set()
    for entry in runtime.site_packages(runtime_dir).iterdir():
        name = entry.name.split(".")[0]
        if entry.suffix in (".py", ".so") or (entry.is_dir() and "." not in entry.name):
            names.add(name)
    names.discard("__pycache__")
    return sorted(names)
