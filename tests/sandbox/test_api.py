"""The public API: notebooks in, frozen results out; the pool, sessions, the CLI."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest

from sandbox import (
    Kernel,
    KernelPool,
    Limits,
    SandboxInfraError,
    SandboxUserError,
    Session,
    hostdir,
    isolation,
    run_cells,
    run_notebook,
    slots,
)
from tests.support.sandbox import once_printed, stdout

REPO = Path(__file__).resolve().parents[2]


def notebook(*sources: str) -> bytes:
    cells = [nbformat.v4.new_markdown_cell("# title")]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells)).encode()


def test_it_runs_a_notebook_and_returns_outputs_statuses_and_memory(mode: str) -> None:
    nb = notebook(
        "x = 20\nprint('hello')",
        "x + 22",
        "1 / 0",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()",
    )
    with KernelPool(size=1, mode=mode) as pool:
        result = run_notebook(nb, pool=pool)

    assert [cell.index for cell in result.cells] == [1, 2, 3, 4]
    assert [cell.status for cell in result.cells] == ["ok", "ok", "error", "ok"]
    assert stdout(result.cells[0]) == "hello\n"
    assert result.cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert result.cells[2].outputs[0]["ename"] == "ZeroDivisionError"
    assert "image/png" in result.cells[3].outputs[-1]["data"]
    assert result.stopped_by is None and result.peak_memory_mib is not None
    with pytest.raises(AttributeError):
        result.stopped_by = "timeout"


def test_it_marks_the_cells_after_a_limit_as_not_run(mode: str) -> None:
    limits = Limits(cell_timeout_s=5)  # ample for `1`; the second cell never ends

    with KernelPool(size=1, mode=mode, limits=limits) as pool:
        result = run_cells(["1", "import time\ntime.sleep(600)", "2"], limits=limits, pool=pool)

    assert [cell.status for cell in result.cells] == ["ok", "timeout", "not_run"]
    assert result.stopped_by == "timeout"


def test_it_returns_user_expressions(kernel) -> None:
    result = kernel.execute("y = 6", user_expressions={"double": "y * 2"})

    assert result.user_expressions["double"]["data"]["text/plain"] == "12"


def test_the_kernel_runtime_has_the_scientific_stack(kernel) -> None:
    code = (
        "from sympy import *\n"
        "x = symbols('x')\n"
        "import scipy.integrate\n"
        "area = scipy.integrate.quad(lambda t: t * t, 0, 3)[0]"
    )
    result = kernel.execute(code, user_expressions={"r": "(str(integrate(x**2, x)), round(area))"})

    assert result.status == "ok"
    assert result.user_expressions["r"]["data"]["text/plain"] == "('x**3/3', 9)"


def test_it_rejects_a_broken_notebook_as_the_users_error() -> None:
    with pytest.raises(SandboxUserError):
        run_notebook(b"{not json")


def test_the_cli_prints_the_executed_notebook_as_json(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_bytes(notebook("print(6 * 7)", "import time\ntime.sleep(600)", "'never'"))

    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "run", str(path), "--timeout", "5", "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip

    result = json.loads(done.stdout)
    assert done.returncode == 0
    assert set(result) >= {"cells", "stopped_by"}
    assert [set(cell) >= {"index", "status", "outputs"} for cell in result["cells"]] == [True] * 3
    assert result["cells"][0]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "42\n"}
    ]
    assert [cell["status"] for cell in result["cells"]] == ["ok", "timeout", "not_run"]
    assert result["stopped_by"] == "timeout"


def test_the_pool_replaces_a_kernel_that_died_while_warm(mode: str) -> None:
    with KernelPool(size=1, mode=mode) as pool:
        first = pool.acquire()
        first.shutdown()
        assert pool.wait_ready(1)
        warm = pool._ready[0]
        warm.process.kill()

        kernel = pool.acquire()
        try:
            assert kernel is not warm and kernel.is_alive()
            assert stdout(kernel.execute("print('alive')")) == "alive\n"
        finally:
            kernel.shutdown()


WORKER = """
import sys, time
from sandbox import KernelPool
pool = KernelPool(size=2, mode=sys.argv[1])
assert pool.wait_ready(2, timeout=600)
print(" ".join(f"{kernel.lease.uid}:{kernel.host_dir}" for kernel in pool._ready), flush=True)
time.sleep(600)
"""


def test_a_killed_worker_leaves_no_kernel_running(mode: str) -> None:
    # given: a worker process with two warm kernels
    worker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WORKER), mode],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert worker.stdout is not None
    kernels = dict(item.split(":") for item in worker.stdout.readline().split())
    uids = {int(uid) for uid in kernels}
    assert len(uids) == 2

    # when: it is killed without a chance to clean up
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    # then: its kernels died with it, and a new pool's start cleans what is left (tests on
    # other workers may meanwhile lease these uids again, and leave their own leftovers: judge
    # what this worker left)
    wait_for_exit(processes_of(uids))
    assert processes_of(uids) == []
    with KernelPool(size=0, mode=mode):
        pass
    assert [path for path in kernels.values() if Path(path).exists()] == []


def test_a_kernel_never_shares_its_uid_with_what_a_killed_one_left() -> None:
    # given: a slot uid, and a directory a killed worker's kernel left under it
    lease = slots.lease_uid()
    stale = slots.prepare_run_base() / f"k{lease.uid}-dead0000"
    stale.mkdir(mode=0o700)
    try:
        # when: a kernel's directory is made under that uid
        host_dir = hostdir.make_host_dir(lease, Limits())
        hostdir.remove_host_dir(host_dir)

        # then: the leftover went before the new one came
        assert not stale.exists()
    finally:
        hostdir.remove_host_dir(stale)
        lease.release()


def wait_for_exit(pids: list[int], timeout_s: float = 600) -> None:
    """Wait until these processes have exited (a pidfd is readable once its process is)."""
    pidfds = []
    for pid in pids:
        try:
            pidfds.append(os.pidfd_open(pid))
        except ProcessLookupError:
            continue
    try:
        for pidfd in pidfds:
            select.select([pidfd], [], [], timeout_s)
    finally:
        for pidfd in pidfds:
            os.close(pidfd)


def processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except (OSError, NotADirectoryError):
            continue
        uid = int(status.split("\nUid:", 1)[1].split()[0])
        zombie = status.split("\nState:", 1)[1].split()[0] == "Z"
        if uid in uids and not zombie:
            found.append(int(entry.name))
    return found


def test_a_session_streams_outputs_interrupts_and_restarts(mode: str) -> None:
    streamed: list[dict[str, object]] = []
    # Limits far beyond the test's own needs: on a busy machine the session's total run time
    # must not end the interrupted cell before its interrupt does.
    limits = Limits(cell_timeout_s=600, total_timeout_s=600)
    with Session(limits=limits, mode=mode) as session:
        session.execute(
            "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)",
            on_output=streamed.append,
        )
        assert "".join(str(o["text"]) for o in streamed) == "0\n1\n2\n"

        # Once it printed, surely running: no race with its start.
        interrupted = session.execute(
            "x = 1\nprint('sleeping', flush=True)\ntime.sleep(600)",
            on_output=once_printed("sleeping\n", session.interrupt),
        )
        assert interrupted.status == "error"
        assert interrupted.outputs[-1]["ename"] == "KeyboardInterrupt"
        assert session.execute("x").outputs[0]["data"]["text/plain"] == "1"

        session.restart()
        assert session.execute("x").outputs[-1]["ename"] == "NameError"
    assert not session.is_alive()


def test_a_kernel_shut_down_from_another_thread_ends_its_running_cell(start) -> None:
    # given: a cell that runs for ten minutes, and a thread that shuts the kernel down
    kernel = start(cell_timeout_s=600, total_timeout_s=600)

    def shut_down() -> None:
        threading.Thread(target=kernel.shutdown).start()

    # when it does, while the cell runs
    result = kernel.execute(
        "import time\nprint('sleeping', flush=True)\ntime.sleep(600)",
        on_output=once_printed("sleeping\n", shut_down),
    )

    # then the cell ends as killed, and the kernel is released (by the fixture's checks too)
    assert result.status == "killed"
    assert not kernel.is_alive()
    kernel.shutdown(wait=True)


def test_it_refuses_to_start_without_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SANDBOX_INSECURE_LOCAL", raising=False)

    with pytest.raises(SandboxInfraError, match="bwrap"):
        isolation.check_isolation()


def test_the_insecure_mode_runs_only_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_INSECURE_LOCAL", "1")

    result = run_cells(["import os\nprint(os.getuid())"])

    assert stdout(result.cells[0]) == f"{os.getuid()}\n"


def test_a_pool_starts_kernels_together_for_callers_waiting_at_once(monkeypatch) -> None:
    # given a pool of one warm kernel, which records how many kernels boot at once
    booting: list[int] = []
    real = KernelPool._advance

    def recorded(self: KernelPool, waiting: list[Any]) -> None:
        booting.append(len(waiting))
        real(self, waiting)

    monkeypatch.setattr(KernelPool, "_advance", recorded)
    with KernelPool(size=1, mode="zygote") as pool:
        assert pool.wait_ready(1)
        # when four callers want a kernel at the same moment
        got: list[Kernel] = []
        barrier = threading.Barrier(4)

        def take() -> None:
            barrier.wait()
            got.append(pool.acquire(timeout=120))

        takers = [threading.Thread(target=take) for _ in range(4)]
        for taker in takers:
            taker.start()
        for taker in takers:
            taker.join()
        for kernel in got:
            kernel.shutdown()
    # then each got one, and the kernels they waited for booted together
    assert len(got) == 4
    assert max(booting) >= 2, booting


def test_a_pool_keeps_as_many_warm_kernels_as_a_class_took_lately() -> None:
    now = [1000.0]
    pool = KernelPool(size=2, burst=8, mode="insecure")  # never started: no kernel
    pool.clock = lambda: now[0]
    assert pool.target() == 2
    # a class takes 5 kernels within a few seconds, then 6 more
    pool._handed_out.extend([996.0, 997.0, 998.0, 999.0, 1000.0])
    assert pool.target() == 5
    pool._handed_out.extend([1000.0] * 6)
    assert pool.target() == 8  # never beyond the burst figure
    # and once the class is seated, the pool goes back to its size
    now[0] = 1000.0 + 10.5
    assert pool.target() == 2
    assert KernelPool(size=2, mode="insecure").target() == 2  # no burst: a fixed size


def test_a_session_waits_for_its_pools_next_kernel_as_long_as_it_was_told() -> None:
    waited: list[float] = []

    class EmptyPool:
        def acquire(self, *, limits: Limits, timeout: float) -> Kernel:
            waited.append(timeout)
            raise SandboxInfraError("no sandboxed kernel became ready")

    session = Session(pool=EmptyPool(), start_timeout_s=120)
    with pytest.raises(SandboxInfraError):
        session.start()
    assert waited == [120]
