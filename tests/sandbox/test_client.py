"""The worker's Jupyter client signs its requests as jupyter_client's Session does: a
kernel (which checks them with its own Session) accepts them, and only with its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from jupyter_client.session import Session

from sandbox import client


@pytest.fixture
def kernel_side(tmp_path: Path):
    """A ROUTER socket where a kernel's shell channel would be, and the client's Channels."""
    info = client.connection_info(ip=str(tmp_path / "k"), key=client.new_key())
    shell = client.shared_context().socket(zmq.ROUTER)
    shell.bind(client.ipc_url(info, "shell"))
    channels = client.Channels(info, max_message_bytes=1 << 20)
    try:
        yield info, shell, channels
    finally:
        channels.close()
        shell.close(linger=0)


def received(shell: zmq.Socket[bytes]) -> list[bytes]:
    assert shell.poll(5000), "the request never arrived"
    return shell.recv_multipart()


def test_a_kernel_accepts_the_clients_requests(kernel_side) -> None:
    info, shell, channels = kernel_side
    kernel_session = Session(key=info["key"].encode(), signature_scheme="hmac-sha256")
    content = {"code": "print('é \\u2603')", "silent": False, "user_expressions": {"x": "1"}}

    first = channels.send("shell", "execute_request", content)
    second = channels.send("shell", "kernel_info_request", {}, metadata={"cellId": "c1"})

    messages = []
    for _ in range(2):
        _, frames = kernel_session.feed_identities(received(shell))
        messages.append(kernel_session.deserialize(frames))  # raises on a bad signature
    assert [m["header"]["msg_id"] for m in messages] == [first, second]
    assert first != second
    assert messages[0]["content"] == content
    assert messages[0]["header"]["msg_type"] == "execute_request"
    assert messages[1]["metadata"] == {"cellId": "c1"}
    assert messages[0]["parent_header"] == {}
    header = messages[0]["header"]
    assert set(header) == {"msg_id", "msg_type", "username", "session", "date", "version"}
    assert header["session"] == messages[1]["header"]["session"]


def test_a_kernel_with_another_key_refuses_them(kernel_side) -> None:
    _, shell, channels = kernel_side
    other = Session(key=client.new_key().encode(), signature_scheme="hmac-sha256")

    channels.send("shell", "execute_request", {"code": "1"})

    _, frames = other.feed_identities(received(shell))
    with pytest.raises(ValueError, match="Invalid Signature"):
        other.deserialize(frames)
