"""A second "host" on this machine: a network namespace of its own, reached over a veth pair.

Processes started in it see only its loopback and its end of the pair (the first host's
127.0.0.1 is out of reach), and their own hostname (a UTS namespace); the filesystem is
shared. Root only (ip netns, as the test suite runs). Everything is removed on exit, even
after a failure.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

# Sets the hostname of the new UTS namespace, then becomes the command.
_SET_HOSTNAME = (
    "import os, socket, sys; socket.sethostname(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])"
)


@dataclass(frozen=True)
class NetnsHost:
    netns: str
    hostname: str
    host_address: str  # the first host's end of the veth pair
    address: str  # the second host's end

    def argv(self, command: list[str]) -> list[str]:
        """`command` run on the second host (its network namespace and hostname)."""
        return [
            "ip", "netns", "exec", self.netns, "unshare", "--uts", "--",
            sys.executable, "-c", _SET_HOSTNAME, self.hostname, *command,
        ]  # fmt: skip


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 of 10.203.0.0/16 that no interface of this machine uses (test processes run
    side by side, each with its own pair)."""
    shown = subprocess.run(["ip", "-4", "-o", "addr"], check=True, capture_output=True, text=True)
    used = {
        ipaddress.ip_interface(word).network
        for line in shown.stdout.splitlines()
        for word in line.split()
        if word.startswith("10.203.")
    }
    subnets = list(ipaddress.IPv4Network("10.203.0.0/16").subnets(new_prefix=30))
    start = os.getpid() % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if subnet not in used:
            return subnet
    raise RuntimeError("no free /30 in 10.203.0.0/16")


@contextmanager
def second_host(hostname: str = "second-host") -> Iterator[NetnsHost]:
    tag = secrets.token_hex(3)
    netns, outside, inside = f"ostp-{tag}", f"ostp{tag}h", f"ostp{tag}n"
    subnet = _free_subnet()
    first, second = (str(a) for a in list(subnet.hosts())[:2])
    try:
        _ip("netns", "add", netns)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", netns)
        _ip("addr", "add", f"{first}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", netns, "addr", "add", f"{second}/30", "dev", inside)
        _ip("-n", netns, "link", "set", inside, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        yield NetnsHost(netns=netns, hostname=hostname, host_address=first, address=second)
    finally:
        # Deleting the namespace destroys its end of the pair, and with it the other end.
        with suppress(subprocess.CalledProcessError):
            _ip("netns", "del", netns)
        with suppress(subprocess.CalledProcessError):
            _ip("link", "del", outside)


@contextmanager
def tcp_relay(*, listen: tuple[str, int], target: tuple[str, int]) -> Iterator[int]:
    """Accept on `listen` (port 0: any) and relay each connection to `target`: for a
    server that listens on 127.0.0.1 only and may not be restarted. Yields the port."""
    server = socket.create_server(listen)
    opened: list[socket.socket] = []

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def accept() -> None:
        with suppress(OSError):  # the server closed: stop
            while True:
                client, _ = server.accept()
                upstream = socket.create_connection(target)
                opened.extend([client, upstream])
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        with suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        server.close()
        for sock in opened:
            with suppress(OSError):
                sock.close()
