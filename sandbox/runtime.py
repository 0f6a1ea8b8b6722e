"""The kernel runtime: the Python environment learner code runs in.

It is separate from the platform's environment (which lives under /root, unreadable by the
sandbox uids) and is built from Debian's /usr/bin/python3.11, readable by any uid, in the
platform's own state folder (sandbox.state), which the sandbox uids can reach.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from sandbox import state
from sandbox.limits import SandboxInfraError

REQUIREMENTS = Path(__file__).resolve().parent / "runtime-requirements.txt"
# Modules of this package that run inside the kernel: installed into the runtime.
KERNEL_MODULES = tuple(
    Path(__file__).resolve().parent / name
    for name in (
        "kernel_outstream.py",
        "kernel_displays.py",
        "kernel_overhead.py",
        "kernel_interrupt.py",
    )
)
BASE_PYTHON = Path("/usr/bin/python3.11")
STAMP_NAME = ".sandbox-runtime-stamp"
# Bump when the build steps change, so existing runtimes are brought up to date.
BUILD_STEPS_VERSION = "2"
MATPLOTLIB_CACHE = "share/matplotlib-cache"

# Kernels get their own tmpfs on these: a runtime under them would be hidden from kernels.
MASKED_IN_SANDBOX = (Path("/tmp"), Path("/dev/shm"))  # noqa: S108


def runtime_path() -> Path:
    """Where the kernel runtime lives: `SANDBOX_RUNTIME`, else `kernel-env` in the state
    folder (/var/lib/open-science-training/<checkout>/kernel-env when root)."""
    configured = os.environ.get("SANDBOX_RUNTIME")
    return Path(configured).absolute() if configured else state.state_dir() / "kernel-env"


def runtime_python(path: Path | None = None) -> Path:
    return (path or runtime_path()) / "bin" / "python"


def requirements_hash(*, base_python: Path = BASE_PYTHON) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(str(base_python).encode() + BUILD_STEPS_VERSION.encode())
    return digest.hexdigest()


def installed_hash(path: Path | None = None) -> str:
    """What identifies the runtime at `path` as built: its folder and its stamp."""
    path = (path or runtime_path()).absolute()
    stamp = path / STAMP_NAME
    built = stamp.read_text().strip() if stamp.is_file() else requirements_hash()
    return hashlib.sha256(f"{path}\n{built}".encode()).hexdigest()


def site_packages(path: Path) -> Path:
    """The runtime's site-packages (venvs of BASE_PYTHON all lay it out alike)."""
    version = BASE_PYTHON.name.removeprefix("python")
    return path / "lib" / f"python{version}" / "site-packages"


def runtime_is_current(path: Path | None = None) -> bool:
    stamp = (path or runtime_path()) / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == requirements_hash()


def build_runtime(*, path: Path | None = None, force: bool = False) -> Path:
    """Build (or bring up to date) the kernel runtime; a no-op when its stamp is current."""
    path = (path or runtime_path()).absolute()
    if any(path.is_relative_to(masked) for masked in MASKED_IN_SANDBOX):
        raise SandboxInfraError(f"the kernel runtime cannot live under /tmp or /dev/shm: {path}")
    state.shared_dir(path.parent)
    if runtime_is_current(path) and not force:
        install_modules(path=path, modules=list(KERNEL_MODULES))
        return path
    if not BASE_PYTHON.exists():
        raise SandboxInfraError(f"{BASE_PYTHON} is missing: apt-get install python3.11-venv")
    if force and path.exists():
        shutil.rmtree(path)
    if not runtime_python(path).exists():
        _run([str(BASE_PYTHON), "-m", "venv", str(path)])
    pip = [str(runtime_python(path)), "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "install", "-r", str(REQUIREMENTS)])
    _build_font_cache(path)
    install_modules(path=path, modules=list(KERNEL_MODULES))
    make_readable_by_everyone(path)
    (path / STAMP_NAME).write_text(requirements_hash() + "\n")
    return path


def _build_font_cache(path: Path) -> None:
    # Built once here and bound read-only into each kernel's home: otherwise every kernel
    # rebuilds it (about a second) on its first matplotlib import.
    cache = path / MATPLOTLIB_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    env = {"MPLCONFIGDIR": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(cache)}
    command = [str(runtime_python(path)), "-c", "import matplotlib.font_manager"]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise SandboxInfraError("building matplotlib's font cache failed")


def font_cache_files(path: Path | None = None) -> list[Path]:
    return sorted(((path or runtime_path()) / MATPLOTLIB_CACHE).glob("fontlist-*.json"))


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise SandboxInfraError(f"building the kernel runtime failed: {' '.join(command)}")


def make_readable_by_everyone(path: Path) -> None:
    """The slot uids must read the whole runtime (its parents are sandbox.state's)."""
    for directory, dirnames, filenames in os.walk(path):
        _add_mode(Path(directory), stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            file = Path(directory) / name
            if not file.is_symlink():
                mode = file.stat().st_mode
                extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
                _add_mode(file, extra)
        del dirnames  # walked by os.walk itself


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


def install_modules(*, path: Path, modules: list[Path]) -> None:
    """Copy single-file modules (the platform's learner clients) into the runtime, where
    learner code can import them; rewritten only when their content changed."""
    site = Path(
        subprocess.check_output(
            [
                str(runtime_python(path)),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            text=True,
        ).strip()
    )
    for module in modules:
        target = site / module.name
        if not target.exists() or target.read_bytes() != module.read_bytes():
            shutil.copyfile(module, target)
        target.chmod(0o644)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox build-runtime")
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--force", action="store_true")
    parser.add_argument(
        "--module",
        type=Path,
        action="append",
        default=[],
        help="a single-file module to make importable by learner code (repeatable)",
    )
    args = parser.parse_args(argv)
    built = build_runtime(path=args.path, force=args.force)
    install_modules(path=built, modules=args.module)
    print(f"kernel runtime ready: {built}", file=sys.stderr)
    return 0
