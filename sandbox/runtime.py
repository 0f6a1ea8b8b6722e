"""The kernel runtime: the Python environment learner code runs in.

It is separate from the platform's environment (which lives under /root, unreadable by the
sandbox uids) and is built from Debian's /usr/bin/python3.11, readable by any uid.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from sandbox.limits import SandboxInfraError

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = Path(__file__).resolve().parent / "runtime-requirements.txt"
BASE_PYTHON = Path("/usr/bin/python3.11")
STAMP_NAME = ".sandbox-runtime-stamp"
# Bump when the build steps change, so existing runtimes are brought up to date.
BUILD_STEPS_VERSION = "2"
MATPLOTLIB_CACHE = "share/matplotlib-cache"


# Kernels get their own tmpfs on these: a runtime under them would be hidden from kernels.
MASKED_IN_SANDBOX = (Path("/tmp"), Path("/dev/shm"))  # noqa: S108


def runtime_path() -> Path:
    """Where the kernel runtime lives: `SANDBOX_RUNTIME`, else `<repo>/var/kernel-env`, or,
    for a checkout under /tmp, a folder of /var/tmp named after the checkout."""
    configured = os.environ.get("SANDBOX_RUNTIME")
    if configured:
        return Path(configured)
    default = REPO_ROOT / "var" / "kernel-env"
    if any(default.absolute().is_relative_to(masked) for masked in MASKED_IN_SANDBOX):
        digest = hashlib.sha256(str(REPO_ROOT.absolute()).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"ostp-kernel-env-{digest}"  # noqa: S108
    return default


def runtime_python(path: Path | None = None) -> Path:
    return (path or runtime_path()) / "bin" / "python"


def requirements_hash(*, base_python: Path = BASE_PYTHON) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(str(base_python).encode() + BUILD_STEPS_VERSION.encode())
    return digest.hexdigest()


def runtime_is_current(path: Path | None = None) -> bool:
    stamp = (path or runtime_path()) / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == requirements_hash()


def build_runtime(*, path: Path | None = None, force: bool = False) -> Path:
    """Build (or bring up to date) the kernel runtime; a no-op when its stamp is current."""
    path = (path or runtime_path()).absolute()
    if runtime_is_current(path) and not force:
        # Stamped only after the whole tree was made readable: just re-check the parents.
        make_parents_traversable(path)
        return path
    if not BASE_PYTHON.exists():
        raise SandboxInfraError(f"{BASE_PYTHON} is missing: apt-get install python3.11-venv")
    if force and path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not runtime_python(path).exists():
        _run([str(BASE_PYTHON), "-m", "venv", str(path)])
    pip = [str(runtime_python(path)), "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "install", "-r", str(REQUIREMENTS)])
    _build_font_cache(path)
    (path / STAMP_NAME).write_text(requirements_hash() + "\n")
    make_readable_by_everyone(path)
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
    """The slot uids must read the runtime and traverse every parent directory."""
    for directory, dirnames, filenames in os.walk(path):
        _add_mode(Path(directory), stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            file = Path(directory) / name
            if not file.is_symlink():
                mode = file.stat().st_mode
                extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
                _add_mode(file, extra)
        del dirnames  # walked by os.walk itself
    make_parents_traversable(path)


def make_parents_traversable(path: Path) -> None:
    for parent in path.absolute().parents:
        _add_mode(parent, stat.S_IXOTH)


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
    import argparse

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
