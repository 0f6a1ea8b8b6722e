"""Attacks on the host's files and secrets: each must fail, and we check how it failed."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import environments, runtime, zygote
from sandbox.course_zygotes import zygotes
from tests.sandbox.conftest import ATTACK_MODES
from tests.support.sandbox import StartKernel, report


@pytest.fixture(params=ATTACK_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Every launcher, the zygote of a course runtime included."""
    return str(request.param)


READ_FILES = """
import json
found = {}
for path in %r:
    try:
        with open(path, "rb") as f:
            found[path] = f.read().decode(errors="replace")
    except OSError as e:
        found[path] = type(e).__name__
print(json.dumps(found))
"""


@pytest.fixture
def host_secrets() -> Iterator[dict[str, str]]:
    """World-readable secret files on the host: only the namespace can hide them."""
    secret = secrets.token_hex(16)
    # Next to the kernel runtime (its parent is partly visible inside), and in /tmp.
    beside_runtime = runtime.runtime_path().parent / f"test-secret-{secret[:8]}"
    beside_runtime.mkdir()
    in_tmp = Path(tempfile.mkdtemp(prefix="test-secret-"))
    settings = beside_runtime / "settings.py"
    settings.write_text(f"SECRET_KEY = '{secret}'\nDATABASE_URL = 'postgres://u:{secret}@db'\n")
    key_file = in_tmp / "secret_key"
    key_file.write_text(secret)
    database = beside_runtime / "db.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("create table learner (password text)")
        connection.execute("insert into learner values (?)", (secret,))
    for path in (beside_runtime, in_tmp):
        path.chmod(0o755)
    for path in (settings, key_file, database):
        path.chmod(0o644)
    yield {"secret": secret, "settings": str(settings), "key": str(key_file), "db": str(database)}
    shutil.rmtree(beside_runtime)
    shutil.rmtree(in_tmp)


def test_it_hides_the_platform_settings_database_and_secret_key_file(
    kernel, host_secrets: dict[str, str]
) -> None:
    paths = [host_secrets["settings"], host_secrets["key"], host_secrets["db"]]

    found = report(kernel, READ_FILES % (paths,))

    assert found == {path: "FileNotFoundError" for path in paths}
    assert host_secrets["secret"] not in json.dumps(found)


def test_it_cannot_read_etc_shadow_or_the_workers_home(kernel) -> None:
    paths = ["/etc/shadow", "/etc/gshadow", "/root/.bash_history", "/proc/1/environ"]

    found = report(kernel, READ_FILES % (paths,))

    assert found["/etc/shadow"] == "FileNotFoundError"
    assert found["/etc/gshadow"] == "FileNotFoundError"
    assert found["/root/.bash_history"] == "FileNotFoundError"
    # pid 1 is the sandbox's own first process, never the host's init.
    assert "SECRET" not in found["/proc/1/environ"]


def test_it_shows_only_the_runtime_and_its_own_dirs_at_the_root(
    kernel, launcher: dict[str, Any]
) -> None:
    # The runtime itself may live under /var (a checkout under /tmp): it is the one tree shown
    # (a course runtime's kernel: the course runtime and the kernel runtime under it).
    shown = [str(p) for p in environments.runtime_folders(launcher.get("runtime_dir"))]
    found = report(
        kernel,
        f"import os, json\nfiles = []\nshown = {shown!r}\n"
        "for top in ('/run', '/cg', '/opt', '/root', '/var'):\n"
        "    for where, dirs, names in os.walk(top):\n"
        "        dirs[:] = [d for d in dirs if os.path.join(where, d) not in shown]\n"
        "        files += [os.path.join(where, name) for name in names]\n"
        "print(json.dumps({'root': sorted(os.listdir('/')), 'files': files}))",
    )

    assert set(found["root"]) <= {"bin", "dev", "etc", "home", "kernel", "lib", "lib64"} | {
        "proc",
        "sbin",
        "tmp",
        "usr",
        runtime.runtime_path().parts[1],
    } | {"run", "cg", "opt"}  # the zygote's mount points, left empty in each kernel
    assert found["files"] == []


def test_it_cannot_see_another_sandboxs_home_or_kernel_dir(start: StartKernel) -> None:
    # given: a first sandbox with a secret in its home and its kernel dir
    first, second = start(), start()
    secret = secrets.token_hex(8)
    where = report(
        first,
        f"import os, json\nopen(os.path.expanduser('~/answer.txt'), 'w').write('{secret}')\n"
        f"open('/kernel/answer.txt', 'w').write('{secret}')\n"
        "print(json.dumps([os.getuid(), os.getpid()]))",
    )
    # when: the second one looks for it everywhere it could be
    code = f"""
import os, json, glob, subprocess

hits = []
for pattern in ["/home/*/*", "/tmp/*", "/kernel/*", "/proc/*/root/home/*/*", "/run/sandbox/*"]:
    for path in glob.glob(pattern):
        try:
            if "{secret}" in open(path).read():
                hits.append(path)
        except OSError:
            pass
grep = subprocess.run(["grep", "-rl", "{secret}", "/home", "/tmp", "/kernel"],
                      capture_output=True, text=True, timeout=20)
print(json.dumps({{"hits": hits, "grep": grep.stdout, "uid": os.getuid(),
                   "pids": sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}}))
"""
    found = report(second, code)

    # then
    assert found["hits"] == [] and found["grep"] == ""
    assert found["uid"] != where[0], "two live sandboxes must not share a uid"
    assert len(found["pids"]) < 10, "a sandbox sees only its own processes"
    assert (first.host_dir / "answer.txt").read_text() == secret


def test_it_gives_the_kernel_no_secret_from_the_workers_environment(
    start: StartKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("SECRET_KEY", secret)
    monkeypatch.setenv("DATABASE_URL", f"postgres://user:{secret}@db/platform")
    # The next kernel comes from a zygote started with the secret set.
    zygote.stop_zygote()
    zygotes.stop_all()
    kernel = start()

    found = report(
        kernel,
        "import os, json\n"
        "own = open('/proc/self/environ', 'rb').read().decode()\n"
        "everyone = ''\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try: everyone += open(f'/proc/{pid}/environ', 'rb').read().decode()\n"
        "    except OSError: pass\n"
        "print(json.dumps({'env': dict(os.environ), 'own': own, 'all': everyone}))",
    )

    assert secret not in json.dumps(found)
    assert "SECRET_KEY" not in found["env"] and "DATABASE_URL" not in found["env"]
    assert found["env"]["HOME"] == "/home/learner"


def test_it_runs_the_kernel_under_an_unprivileged_uid_without_capabilities(kernel) -> None:
    found = report(
        kernel,
        "import os, json\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "print(json.dumps({'uids': os.getresuid(), 'gids': os.getresgid(),\n"
        "  'groups': os.getgroups(), 'caps': [status[k].strip() for k in\n"
        "  ('CapEff', 'CapPrm', 'CapBnd', 'CapAmb')], 'nnp': status['NoNewPrivs'].strip(),\n"
        "  'seccomp': status['Seccomp'].strip()}))",
    )

    uid = found["uids"][0]
    assert uid >= 1000 and found["uids"] == [uid, uid, uid]
    assert found["gids"] == [uid, uid, uid] and set(found["groups"]) <= {uid}
    assert found["caps"][:2] == ["0000000000000000", "0000000000000000"]
    assert found["caps"][3] == "0000000000000000"
    assert found["nnp"] == "1" and found["seccomp"] == "2"


def test_it_keeps_the_runtime_read_only(kernel) -> None:
    target = runtime.runtime_path() / "lib" / "evil.py"

    found = report(
        kernel,
        f"import json\ntry:\n    open({str(target)!r}, 'w').write('x'); r = 'written'\n"
        f"except OSError as e:\n    r = e.errno\nprint(json.dumps(r))",
    )

    assert found in (30, 13)  # EROFS or EACCES
    assert not target.exists()
    assert os.access(runtime.runtime_python(), os.X_OK)
