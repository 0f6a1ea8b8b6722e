"""A package index on disk, made of tiny wheels written here: course environments are
built from it with no network (pip reads nothing but this index).

    ost-hello 1.0       module ost_hello (GREETING = "hello from a course package"), and
                        a .pth file: code that runs whenever an interpreter of the runtime
                        starts. As root it exits at once (nothing of a course may run as
                        root); otherwise it records its uid in sys.ost_boot_uid.
    ost-alpha 1.0       requires ost-beta==1.0
    ost-beta 1.0, 2.0
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import runtime, state

GREETING = "hello from a course package"
BOOT_PTH = "import os, sys; os.getuid() == 0 and os._exit(3); sys.ost_boot_uid = os.getuid()\n"
PACKAGES: list[tuple[str, str, list[str], str]] = [
    ("ost-hello", "1.0", [], f"GREETING = {GREETING!r}\n"),
    ("ost-alpha", "1.0", ["ost-beta==1.0"], "NAME = 'alpha'\n"),
    ("ost-beta", "1.0", [], "VERSION = '1.0'\n"),
    ("ost-beta", "2.0", [], "VERSION = '2.0'\n"),
]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, name: str, version: str, requires: list[str], code: str) -> Path:
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{module}/__init__.py": code.encode(),
        **({f"{module}_boot.pth": BOOT_PTH.encode()} if name == "ost-hello" else {}),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(path, data) for path, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def write_index(root: Path) -> str:
    """A PEP 503 index of PACKAGES under `root`; returns its file:// URL."""
    files = root / "files"
    files.mkdir(parents=True)
    links: dict[str, list[str]] = {}
    for name, version, requires, code in PACKAGES:
        wheel = write_wheel(files, name, version, requires, code)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        links.setdefault(name, []).append(
            f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>'
        )
    for name, anchors in links.items():
        project = root / "simple" / name
        project.mkdir(parents=True)
        body = "\n".join(anchors)
        (project / "index.html").write_text(f"<!DOCTYPE html><html><body>{body}</body></html>")
    return (root / "simple").as_uri()


@pytest.fixture(scope="session")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_index(tmp_path_factory.mktemp("package-index"))


@pytest.fixture(scope="session")
def course_runtimes() -> Iterator[Path]:
    """Course runtimes of this test session, in a folder of their own (removed after): in
    the state folder, since kernels get their own /tmp and could not see one there."""
    runtime.build_runtime()  # a no-op when current; the course runtimes layer on it
    root = state.state_dir() / f"test-course-runtimes-{uuid.uuid4().hex[:8]}"
    previous = os.environ.get("SANDBOX_COURSE_RUNTIMES")
    os.environ["SANDBOX_COURSE_RUNTIMES"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("SANDBOX_COURSE_RUNTIMES", None)
    else:
        os.environ["SANDBOX_COURSE_RUNTIMES"] = previous
    shutil.rmtree(root, ignore_errors=True)
