#!/usr/bin/env bash
# The Debian 12 packages the platform needs on this machine: `run` (the sandbox and the
# kernel runtime) or `test` (those, Chromium for the browser tests, iproute2 for the
# two-host test).
# As root, the missing ones are installed with apt-get; otherwise they are named, with the
# command that installs them, and this fails.
set -euo pipefail

has() { command -v "$1" >/dev/null 2>&1; }
missing=()
# The kernel runtime is built from Debian's interpreter (readable by the sandbox uids).
[ -x /usr/bin/python3.11 ] || missing+=(python3.11)
/usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3.11-venv)
has bwrap || missing+=(bubblewrap)
{ has setpriv && has prlimit; } || missing+=(util-linux)
compgen -G '/usr/lib/*/libseccomp.so.2' >/dev/null || missing+=(libseccomp2)
if [ "${1:-run}" = test ]; then
  has chromium || missing+=(chromium)
  has ip || missing+=(iproute2)  # a second worker "host" in a network namespace
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run make again:" >&2
    echo "    apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing ${missing[*]} with apt-get"
  # Another apt-get (a second checkout installing at the same time) holds the lock: wait.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" -ne 0 ]; then
  if [ "${1:-run}" = test ]; then
    echo "The test suite needs root: it starts real sandboxed kernels and attacks them." >&2
    exit 1
  fi
  if [ "${SANDBOX_INSECURE_LOCAL:-}" != 1 ]; then
    echo "The sandbox needs root: each learner's kernel runs under its own unprivileged uid." >&2
    echo "Run make as root, or SANDBOX_INSECURE_LOCAL=1 make run on a development machine" >&2
    echo "(no isolation at all: never with code you do not trust)." >&2
    exit 1
  fi
fi
