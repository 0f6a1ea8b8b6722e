"""A minimal Jupyter client over ipc sockets, bounded in what it accepts.

jupyter_client's own client is not used: its sockets cannot be given a maximum message
size before they connect, and a learner who prints a gigabyte must not make the worker
hold a gigabyte. Learner code knows the HMAC key (it IS the kernel process), so every
message is treated as untrusted input: malformed ones are dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import secrets
from typing import Any

import zmq
from jupyter_client.session import json_packer, msg_header, new_id

CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
DELIMITER = b"<IDS|MSG>"
PORTS = {name: index + 1 for index, name in enumerate(CHANNELS)}
# Each live kernel takes five zmq sockets in the worker (shell, control, iopub, and iopub's
# monitor pair); zmq's default of 1023 sockets per context would cap a worker near 200.
MAX_SOCKETS = 65536
# Who sends, in each request's header (as jupyter_client's Session names the user).
USERNAME = os.environ.get("USER", "username")


def connection_info(*, ip: str, key: str) -> dict[str, Any]:
    """Jupyter connection info for an ipc kernel whose sockets are `<ip>-<port>`."""
    info: dict[str, Any] = {f"{name}_port": port for name, port in PORTS.items()}
    info.update(
        transport="ipc", ip=ip, key=key, signature_scheme="hmac-sha256", kernel_name="python3"
    )
    return info


def new_key() -> str:
    return secrets.token_hex(32)


def shared_context() -> zmq.Context[zmq.Socket[bytes]]:
    """The process's zmq context, allowed enough sockets for hundreds of kernels (a limit
    zmq reads only before the context's first socket, so it is set on first use)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    if context.get(zmq.MAX_SOCKETS) < MAX_SOCKETS:
        context.set(zmq.MAX_SOCKETS, min(MAX_SOCKETS, context.get(zmq.SOCKET_LIMIT)))
    return context


def ipc_url(info: dict[str, Any], channel: str) -> str:
    return f"ipc://{info['ip']}-{info[f'{channel}_port']}"


class Channels:
    """DEALER sockets for shell and control, a SUB socket for iopub."""

    def __init__(self, info: dict[str, Any], *, max_message_bytes: int) -> None:
        # Requests are signed here, as jupyter_client's Session signs them: building a
        # Session (a traitlets object) cost 1.6 ms of every kernel's start.
        self.hmac = hmac.new(info["key"].encode(), digestmod=hashlib.sha256)
        self.session_id = new_id()
        self.numbers = itertools.count()  # next() is atomic: any thread may send
        self.context = shared_context()
        self.sockets: dict[str, zmq.Socket[bytes]] = {}
        for channel, kind in (("shell", zmq.DEALER), ("control", zmq.DEALER), ("iopub", zmq.SUB)):
            sock = self.context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
            # A flood fills this queue, then the kernel's PUB socket drops the rest.
            sock.setsockopt(zmq.RCVHWM, 256)
            # We connect before the kernel binds: retry soon, not after zmq's default 100 ms.
            sock.setsockopt(zmq.RECONNECT_IVL, 5)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            if kind == zmq.SUB:
                # A message over MAXMSGSIZE makes zmq drop the connection: the monitor
                # tells us, so an output flood is reported instead of silently lost.
                self.monitor = self._monitor(sock)
            sock.connect(ipc_url(info, channel))
            self.sockets[channel] = sock
        self.poller = zmq.Poller()
        for sock in (*self.sockets.values(), self.monitor):
            self.poller.register(sock, zmq.POLLIN)

    def _monitor(self, sock: zmq.Socket[bytes]) -> zmq.Socket[bytes]:
        # A unique address: pyzmq's default one reuses the fd number, which closed
        # kernels' sockets free again ("Address already in use").
        address = f"inproc://sandbox-monitor-{secrets.token_hex(8)}"
        sock.monitor(address, zmq.EVENT_DISCONNECTED)
        monitor = self.context.socket(zmq.PAIR)
        monitor.setsockopt(zmq.LINGER, 0)
        monitor.connect(address)
        return monitor

    def send(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Send a request on `channel` (as jupyter_client's Session.send would); its id."""
        msg_id = f"{self.session_id}_{os.getpid()}_{next(self.numbers)}"
        header = msg_header(msg_id, msg_type, USERNAME, self.session_id)
        parts = [json_packer(p) for p in (header, {}, metadata or {}, content)]
        mac = self.hmac.copy()
        for part in parts:
            mac.update(part)
        self.sockets[channel].send_multipart([DELIMITER, mac.hexdigest().encode(), *parts])
        return msg_id

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        """Messages ready within `timeout_s`, as (channel, message); junk is dropped."""
        ready = dict(self.poller.poll(max(0, int(timeout_s * 1000))))
        received: list[tuple[str, dict[str, Any]]] = []
        if self.monitor in ready:
            while True:
                try:
                    self.monitor.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                received.append(("dropped", {"header": {}, "content": {}}))
        for channel, sock in self.sockets.items():
            if sock not in ready:
                continue
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK, copy=True)
                except zmq.Again:
                    break
                msg = self._decode(frames)
                if msg is not None:
                    received.append((channel, msg))
        return received

    def _decode(self, frames: list[bytes]) -> dict[str, Any] | None:
        """Check the signature and parse the JSON parts; anything malformed is dropped.

        Not Session.deserialize: it parses every header date with dateutil, which costs
        more than the rest of the client for a short cell.
        """
        try:
            start = frames.index(DELIMITER) + 1
        except ValueError:
            return None
        signature, parts = frames[start], frames[start + 1 : start + 5]
        if len(parts) != 4:
            return None
        mac = self.hmac.copy()
        for part in parts:
            mac.update(part)
        if not hmac.compare_digest(mac.hexdigest().encode(), signature):
            return None
        try:
            header, parent, metadata, content = (json.loads(part) for part in parts)
        except ValueError:
            return None
        if not isinstance(content, dict) or not isinstance(header, dict):
            return None
        return {"header": header, "parent_header": parent, "metadata": metadata, "content": content}

    def close(self) -> None:
        self.sockets["iopub"].disable_monitor()
        self.monitor.close(linger=0)
        for sock in self.sockets.values():
            sock.close(linger=0)
        self.sockets.clear()


def parent_id(msg: dict[str, Any]) -> str | None:
    parent = msg.get("parent_header")
    if isinstance(parent, dict):
        value = parent.get("msg_id")
        return value if isinstance(value, str) else None
    return None


def msg_type(msg: dict[str, Any]) -> str:
    value = msg["header"].get("msg_type")
    return value if isinstance(value, str) else ""
