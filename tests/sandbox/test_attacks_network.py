"""Attacks through the network and the syscall surface: no way out, and we check how."""

from __future__ import annotations

import errno
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.sandbox.conftest import ATTACK_MODES
from tests.support.sandbox import report


@pytest.fixture(params=ATTACK_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Every launcher, the zygote of a course runtime included."""
    return str(request.param)


@pytest.fixture
def host_listener() -> Iterator[dict[str, object]]:
    """A TCP server on the host's loopback, like Redis: it records every connection."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    state: dict[str, object] = {"port": server.getsockname()[1], "accepted": 0}
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            state["accepted"] = int(str(state["accepted"])) + 1
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield state
    stop.set()
    thread.join()
    server.close()


def host_addresses() -> list[str]:
    addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in addresses if ":" not in a] or ["192.0.2.2"]


CONNECT = """
import json, socket
results = {}
for host in %r:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, %d)); results[host] = "connected"
    except OSError as e:
        results[host] = e.errno
    finally:
        s.close()
print(json.dumps(results))
"""


def test_it_cannot_reach_a_tcp_server_on_the_hosts_loopback_or_addresses(
    kernel, host_listener: dict[str, object]
) -> None:
    # given: a listener on the host that the test itself can reach
    port = host_listener["port"]
    assert isinstance(port, int)
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    hosts = ["127.0.0.1", *host_addresses()]

    # when
    found = report(kernel, CONNECT % (hosts, port))

    # then: its own empty loopback refuses, every other address is unreachable
    assert found["127.0.0.1"] == errno.ECONNREFUSED
    for host in hosts[1:]:
        assert found[host] in (errno.ENETUNREACH, errno.EHOSTUNREACH), found
    assert host_listener["accepted"] == 1  # only the test's own connection


def test_it_cannot_resolve_names_or_send_udp_to_a_resolver(kernel) -> None:
    found = report(
        kernel,
        "import json, socket\nr = {}\n"
        "try: socket.getaddrinfo('pypi.org', 443); r['dns'] = 'resolved'\n"
        "except OSError as e: r['dns'] = type(e).__name__\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try: s.sendto(b'x', ('8.8.8.8', 53)); r['udp'] = 'sent'\n"
        "except OSError as e: r['udp'] = e.errno\n"
        "r['interfaces'] = [name for _, name in socket.if_nameindex()]\n"
        "print(json.dumps(r))",
    )

    assert found["dns"] == "gaierror"
    assert found["udp"] == errno.ENETUNREACH
    assert found["interfaces"] == ["lo"]


@pytest.mark.parametrize(
    ("family", "kind"),
    [("AF_VSOCK", "SOCK_STREAM"), ("AF_PACKET", "SOCK_RAW"), ("AF_BLUETOOTH", "SOCK_STREAM")],
)
def test_it_refuses_socket_families_that_leave_the_namespace(kernel, family, kind) -> None:
    found = report(
        kernel,
        f"import json, socket\ntry:\n"
        f"    socket.socket(socket.{family}, socket.{kind}); r = 'created'\n"
        f"except OSError as e:\n    r = e.errno\nprint(json.dumps(r))",
    )

    assert found == errno.EAFNOSUPPORT


def test_it_refuses_netlink_other_than_routing(kernel) -> None:
    found = report(
        kernel,
        "import json, socket\nr = {}\n"
        "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close(); r['route'] = 'ok'\n"
        "try: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9); r['audit'] = 'created'\n"
        "except OSError as e: r['audit'] = e.errno\n"
        "print(json.dumps(r))",
    )

    assert found == {"route": "ok", "audit": errno.EAFNOSUPPORT}


MOUNT_AND_UNSHARE = """
import ctypes, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    result = getattr(libc, name)(*args)
    return ctypes.get_errno() if result != 0 else "succeeded"
r = {
    "unshare_user": call("unshare", 0x10000000),
    "unshare_mount": call("unshare", 0x00020000),
    "mount_tmpfs": call("mount", b"tmpfs", b"/tmp", b"tmpfs", 0, None),
    "remount_usr_rw": call("mount", None, b"/usr", None, 0x20 | 0x1000, None),
    "umount_proc": call("umount2", b"/proc", 2),
    "chroot": call("chroot", b"/tmp"),
    "setuid_root": call("setuid", 0),
}
p = subprocess.run(["unshare", "-r", "id"], capture_output=True, text=True)
r["unshare_binary"] = p.returncode
print(json.dumps(r))
"""


def test_it_refuses_mount_and_unshare_from_ctypes(kernel) -> None:
    found = report(kernel, MOUNT_AND_UNSHARE)

    assert found["unshare_user"] == errno.EPERM
    assert found["unshare_mount"] == errno.EPERM
    assert found["mount_tmpfs"] == errno.EPERM
    assert found["remount_usr_rw"] == errno.EPERM
    assert found["umount_proc"] == errno.EPERM
    assert found["chroot"] == errno.EPERM
    assert found["setuid_root"] in (errno.EPERM, errno.EINVAL)  # EINVAL: 0 is unmapped
    assert found["unshare_binary"] != 0


def test_it_cannot_signal_or_ptrace_a_host_process_of_its_own_uid(kernel) -> None:
    # given: a host process running under the very uid the sandbox runs as
    uid = report(kernel, "import os, json; print(json.dumps(os.getuid()))")
    victim = subprocess.Popen(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "60"]
    )
    try:
        # when: the sandbox signals it, every process it can, and tries to attach to it
        found = report(
            kernel,
            f"""
import ctypes, json, os, signal

libc = ctypes.CDLL(None, use_errno=True)
r = {{}}
try:
    os.kill({victim.pid}, signal.SIGKILL); r["kill"] = "sent"
except OSError as e:
    r["kill"] = e.errno
r["ptrace"] = ctypes.get_errno() if libc.ptrace(16, {victim.pid}, 0, 0) != 0 else "attached"
r["ptrace_self_child"] = ctypes.get_errno() if libc.ptrace(0, 0, 0, 0) != 0 else "traceme"
try:
    os.kill(-1, signal.SIGTERM); r["kill_all"] = "sent"
except OSError as e:
    r["kill_all"] = e.errno
print(json.dumps(r))
""",
        )
        # then
        assert found["kill"] == errno.ESRCH
        assert found["ptrace"] == errno.EPERM
        assert found["ptrace_self_child"] == errno.EPERM
        assert victim.poll() is None, "the host process was killed from the sandbox"
    finally:
        victim.kill()
        victim.wait()
