"""The model gateway's socket directory inside the sandbox: reachable, read-only."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import SandboxInfraError
from tests.support.sandbox import StartKernel, report


@pytest.fixture
def gateway_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory like the gateway's: a world-connectable socket answering "pong"."""
    directory = Path(tempfile.mkdtemp(prefix="gw-"))
    directory.chmod(0o755)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(directory / "gateway.sock"))
    (directory / "gateway.sock").chmod(0o666)
    server.listen(4)

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            uid = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            conn.sendall(b"pong:" + str(int.from_bytes(uid[4:8], "little")).encode())
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(directory))
    yield directory
    server.close()
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


PROBE = """
import json, os, socket
found = {}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/gateway/gateway.sock")
found["reply"] = s.recv(64).decode()
for name, attempt in [
    ("create", lambda: open("/run/gateway/planted", "w")),
    ("unlink", lambda: os.unlink("/run/gateway/gateway.sock")),
    ("rename", lambda: os.rename("/run/gateway/gateway.sock", "/run/gateway/x")),
]:
    try:
        attempt()
        found[name] = "allowed"
    except OSError as exc:
        found[name] = type(exc).__name__
print(json.dumps(found))
"""


def test_learner_code_reaches_the_gateway_socket_as_its_slot_uid_and_changes_nothing(
    gateway_dir: Path, start: StartKernel
) -> None:
    kernel = start()
    found = report(kernel, PROBE)
    assert found["reply"] == f"pong:{kernel.uid}"
    assert kernel.uid is not None and kernel.uid != os.getuid()
    assert {found["create"], found["unlink"], found["rename"]} <= {"OSError", "PermissionError"}
    assert sorted(p.name for p in gateway_dir.iterdir()) == ["gateway.sock"]


def test_a_gateway_directory_the_sandbox_uids_cannot_reach_is_refused_loudly(
    monkeypatch: pytest.MonkeyPatch, start: StartKernel
) -> None:
    hidden = Path(tempfile.mkdtemp(prefix="gw-closed-"))  # 0700: slot uids cannot traverse it
    (hidden / "gateway").mkdir(mode=0o755)
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(hidden / "gateway"))
    try:
        with pytest.raises(SandboxInfraError, match="not reachable by the sandbox uids"):
            start()
    finally:
        (hidden / "gateway").rmdir()
        hidden.rmdir()
