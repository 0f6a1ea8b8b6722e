"""The seccomp filter every kernel runs under, compiled once to classic BPF bytes.

Namespaces do not cover everything: AF_VSOCK is not namespaced (on a VM it reaches the
host), and new user namespaces, mounts, ptrace or keyrings widen the kernel's attack
surface. The filter allows everything else, so ordinary Python, numpy and ipykernel work.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import tempfile

import pyseccomp as seccomp

# Address families learner code may use: unix sockets (the kernel's own channels),
# IP (only loopback exists in the namespace) and netlink route (libzmq asks it for
# interfaces). Everything else, AF_VSOCK and AF_PACKET included, is refused.
ALLOWED_FAMILIES = {socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK}
MAX_FAMILY = 64
NETLINK_ROUTE = 0

DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "fanotify_init", "iopl", "ioperm", "vhangup", "uselib", "personality",
)  # fmt: skip

# clone() flags that create namespaces: refused, so no new user namespace grants caps.
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
NAMESPACE_FLAGS |= 0x20000000 | 0x40000000 | 0x00000080  # NEWNS..NEWNET, NEWCGROUP
TIOCSTI = 0x5412  # pushes characters into a terminal's input: a classic escape


def build_filter() -> seccomp.SyscallFilter:
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    denied = seccomp.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(denied, name)
        except (OSError, RuntimeError, ValueError):
            continue  # a syscall this libseccomp does not know is not a way out either
    for family in range(MAX_FAMILY):
        if family not in ALLOWED_FAMILIES:
            rules.add_rule(
                seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family)
            )
    rules.add_rule(
        seccomp.ERRNO(errno.EAFNOSUPPORT),
        "socket",
        seccomp.Arg(0, seccomp.EQ, socket.AF_NETLINK),
        seccomp.Arg(2, seccomp.NE, NETLINK_ROUTE),
    )
    rules.add_rule(denied, "socket", seccomp.Arg(0, seccomp.GE, MAX_FAMILY))
    for flag in _bits(NAMESPACE_FLAGS):
        rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: make libc fall back to clone.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(denied, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    return rules


def _bits(mask: int) -> list[int]:
    return [1 << bit for bit in range(mask.bit_length()) if mask & (1 << bit)]


@functools.cache
def filter_bpf() -> bytes:
    """The compiled filter, as bwrap's `--seccomp FD` and the zygote's loader expect it."""
    with tempfile.TemporaryFile() as compiled:
        build_filter().export_bpf(compiled)
        compiled.seek(0)
        return compiled.read()


def filter_fd() -> int:
    """A readable fd positioned at the start of the compiled filter (caller closes it)."""
    read_end, write_end = os.pipe()
    data = filter_bpf()
    if len(data) > 60_000:
        raise RuntimeError("seccomp filter larger than a pipe buffer")
    os.write(write_end, data)
    os.close(write_end)
    return read_end
