"""`make run`'s launcher: the platform as a list of service specs, the web on every core."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config.launch import service_specs, web_argv

ROOT = Path(__file__).resolve().parents[2]


def test_the_platform_is_a_list_of_named_services_with_the_web_on_several_workers() -> None:
    specs = service_specs(
        "python", host="127.0.0.1", port=8000, var_dir=Path("var"), web_workers=3, concurrency=2
    )
    names = [spec.name for spec in specs]
    assert names == ["worker", "interactive", "beat", "gateway", "web"]
    web = specs[-1].argv
    assert web[web.index("--workers") + 1] == "3"
    worker = specs[0].argv
    assert worker[worker.index("--concurrency") + 1] == "2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _web_workers(pid: int) -> list[int]:
    """Children of uvicorn's supervisor that serve (not multiprocessing's resource tracker)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    children = [int(child) for child in text.split()]
    return [
        child
        for child in children
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_the_web_server_answers_from_as_many_processes_as_configured(tmp_path) -> None:
    # given: the web command of `make run` with two workers
    port = _free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings_test", VAR_DIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "platform")])
    argv = web_argv(sys.executable, host="127.0.0.1", port=port, workers=2)
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        # when: it answers
        deadline = time.monotonic() + 120  # a failure guard only: we wait for the answer
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/static/css/app.css", timeout=5
                ):
                    break
            except OSError:
                assert process.poll() is None, "the web server exited"
                assert time.monotonic() < deadline, "the web server never answered"
                time.sleep(0.2)
        # then: two worker processes serve it, under one supervisor
        assert len(_web_workers(process.pid)) == 2
    finally:
        process.terminate()
        process.wait(timeout=30)
