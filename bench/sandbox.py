"""Sandbox benchmark: kernel start, hand-out, round trip, idle memory, sustained runs/s,
the trusted runner's cost per test and per process, and the same reference notebook run by
plain nbclient and graded by `nbgrader autograde`.

Writes bench/results/sandbox.json. Run as root: `python -m bench.sandbox`;
`python -m bench.sandbox --course-runtime` measures only the kernels of a course runtime
(`course_runtime` in the same file, the rest kept).
Environment: BENCH_SANDBOX_SECONDS (sustained phase, default 20), SANDBOX_MODE.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat

from bench import competitors
from sandbox import KernelPool, Limits, build_environment, launch, runtime, state, zygote
from sandbox.course_zygotes import zygotes
from sandbox.kernel import drain_destroyed
from sandbox.trusted import CheckCell, TrustedRunner
from sandbox.trusted.forkserver import ForkServer
from tests.support.package_index import write_index

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "bench" / "nb" / "reference.ipynb"
RESULTS = ROOT / "bench" / "results" / "sandbox.json"
SUSTAINED_S = float(os.environ.get("BENCH_SANDBOX_SECONDS", "20"))
SAMPLES = 20


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def cold_start_ms(mode: str, samples: int) -> list[float]:
    """Make a kernel and wait for its first kernel_info reply (no pool)."""
    times = []
    launch.start_kernel(limits=Limits(), mode=mode).shutdown()  # a zygote, if any, is up
    for _ in range(samples):
        started = time.perf_counter()
        kernel = launch.start_kernel(limits=Limits(), mode=mode)
        times.append(ms_since(started))
        kernel.shutdown()
    return times


def handout_and_roundtrip(mode: str) -> tuple[list[float], list[float]]:
    handouts, roundtrips = [], []
    with KernelPool(size=2, mode=mode) as pool:
        for _ in range(SAMPLES):
            pool.wait_ready(1)
            started = time.perf_counter()
            with pool.kernel() as kernel:
                kernel.execute("x = 1")
                handouts.append(ms_since(started))
                for _ in range(5):
                    started = time.perf_counter()
                    kernel.execute("x += 1")
                    roundtrips.append(ms_since(started))
    return handouts, roundtrips


def smaps_unique_mib(pid: int) -> float:
    """Private (unshared) memory of one process: what it costs beyond the zygote's pages."""
    total_kib = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total_kib += int(line.split()[1])
    return total_kib / 1024


def idle_kernel_unique_mib(mode: str) -> float:
    """Unique memory of a warm, idle kernel: every process of its cgroup together."""
    values = []
    for _ in range(3):
        kernel = launch.start_kernel(limits=Limits(), mode=mode)
        try:
            kernel.execute("pass")
            time.sleep(0.5)
            assert kernel.cgroup is not None, "measuring memory needs cgroups (run as root)"
            values.append(sum(smaps_unique_mib(pid) for pid in kernel.cgroup.pids()))
        finally:
            kernel.shutdown()
    return round(statistics.median(values), 1)


def sustained_runs_per_s(mode: str, notebook: bytes, consumers: int = 2) -> dict[str, Any]:
    """Make a kernel, run the 6-cell reference notebook, destroy it: for SUSTAINED_S.

    Besides the wall-clock rate (which other users of the host slow down), the CPU time
    of everything a run costs is counted: this process (client, pool thread), the zygote,
    and each kernel's cgroup. 2 cores / that cost is the rate an idle 2-core host reaches.
    """
    cells = [c.source for c in nbformat.reads(notebook.decode(), as_version=4).cells
             if c.cell_type == "code"]  # fmt: skip
    done: list[float] = []
    kernel_cpu: list[float] = []
    failures: list[str] = []
    stop = threading.Event()

    def consume(pool: KernelPool) -> None:
        while not stop.is_set():
            with pool.kernel() as kernel:
                statuses = [kernel.execute(code).status for code in cells]
                if kernel.cgroup is not None:
                    kernel_cpu.append(kernel.cgroup.cpu_seconds() or 0.0)
            if statuses != ["ok"] * len(cells):
                failures.append(str(statuses))
            done.append(time.perf_counter())

    with KernelPool(size=2, mode=mode) as pool:
        pool.wait_ready(2)
        own_before, zygote_before = _own_cpu_seconds(), _zygote_cpu_seconds(mode)
        started = time.perf_counter()
        threads = [threading.Thread(target=consume, args=(pool,)) for _ in range(consumers)]
        for thread in threads:
            thread.start()
        time.sleep(SUSTAINED_S)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        own = _own_cpu_seconds() - own_before
        zygote = _zygote_cpu_seconds(mode) - zygote_before
    runs = len(done)
    per_run_ms = (own + zygote + sum(kernel_cpu)) * 1000 / max(runs, 1)
    return {
        "runs_per_s": round(runs / elapsed, 2),
        "runs": runs,
        "failed_runs": len(failures),
        "cpu_ms_per_run": round(per_run_ms, 1),
        "cpu_ms_per_run_parts": {
            "worker": round(own * 1000 / max(runs, 1), 1),
            "zygote": round(zygote * 1000 / max(runs, 1), 1),
            "kernel": round(sum(kernel_cpu) * 1000 / max(len(kernel_cpu), 1), 1),
        },
        "runs_per_s_cpu_bound_2_cores": round(2000 / per_run_ms, 1),
    }


def _own_cpu_seconds() -> float:
    # Not RUSAGE_CHILDREN: bwrap-mode kernels are reaped children, already in their cgroup.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _zygote_cpu_seconds(mode: str) -> float:
    if mode != "zygote":
        return 0.0
    process = zygote.get_zygote().popen
    assert process is not None
    total = 0.0
    for pid in [process.pid, *_children(process.pid)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


SQUARES = "def squares(n):\n    return [i ** 2 for i in range(1, n + 1)]\n"


def trusted_per_test_ms(mode: str, tests: int = 50) -> dict[str, float]:
    """One test cell through the trusted runner, beside the same assert run in the kernel."""
    cells = [
        CheckCell(f"t{i}", f"assert squares({i + 1})[-1] == {(i + 1) ** 2}") for i in range(tests)
    ]
    kernel = launch.start_kernel(limits=Limits(), mode=mode)
    try:
        kernel.execute(SQUARES)
        with TrustedRunner(kernel, cell_timeout_s=30) as runner:
            runner.run(cells[:1])  # the kernel-side helper is compiled once per kernel
            started = time.perf_counter()
            results = runner.run(cells)
            trusted = ms_since(started) / tests
        assert all(result.passed for result in results), results
        started = time.perf_counter()
        for cell in cells:
            assert kernel.execute(cell.code).status == "ok"
        in_kernel = ms_since(started) / tests
    finally:
        kernel.shutdown()
    return {"trusted_per_test_ms": round(trusted, 2), "in_kernel_per_test_ms": round(in_kernel, 2)}


def trusted_spawn_ms(samples: int = 5) -> dict[str, float]:
    """A trusted process for a submission: forked ahead by the warm fork server, beside a
    cold start (a new fork server importing numpy and pandas, then its first fork)."""
    cold = ForkServer()
    try:
        started = time.perf_counter()
        ctrl, _ = cold.spawn()
        cold_ms = ms_since(started)
        ctrl.close()
    finally:
        cold.close()
    server = ForkServer()
    times = []
    try:
        server.warm_up()
        for _ in range(samples):
            while server._spare is None:
                time.sleep(0.01)
            started = time.perf_counter()
            ctrl, _ = server.spawn()
            times.append(ms_since(started))
            ctrl.close()
    finally:
        server.close()
    return {"trusted_spawn_warm_ms_p50": p50(times), "trusted_spawn_cold_ms": round(cold_ms, 1)}


def fresh_nbclient_s(notebook: bytes, samples: int = 3) -> float:
    """The same notebook run by plain nbclient on a fresh, unsandboxed kernel."""
    from nbclient import NotebookClient

    times = []
    for _ in range(samples):
        nb = nbformat.reads(notebook.decode(), as_version=4)
        started = time.perf_counter()
        NotebookClient(nb, kernel_name="python3", timeout=60).execute()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def nbgrader_autograde_s(notebook: bytes, samples: int = 3) -> float:
    """`nbgrader autograde` of one submission of the reference notebook, as instructors run it
    (nbgrader from the bench-only environment, bench/competitors.py)."""
    bin_dir = competitors.ensure_env()
    times = []
    for _ in range(samples):
        course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
        try:
            (course / "nbgrader_config.py").write_text(
                f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
            )
            (course / "source" / "ps1").mkdir(parents=True)
            (course / "source" / "ps1" / "ps1.ipynb").write_bytes(notebook)
            nbgrader = str(bin_dir / "nbgrader")
            competitors.timed(
                [nbgrader, "generate_assignment", "ps1", "--create", "--force"], course
            )
            submitted = course / "submitted" / "learner" / "ps1"
            submitted.mkdir(parents=True)
            shutil.copy(course / "source" / "ps1" / "ps1.ipynb", submitted / "ps1.ipynb")
            times.append(
                competitors.timed([nbgrader, "autograde", "ps1", "--create", "--force"], course)
            )
        finally:
            shutil.rmtree(course, ignore_errors=True)
    return round(statistics.median(times), 3)


COURSE_PINS = ["ost-hello==1.0"]  # a tiny package of tests.support.package_index
STACK_IMPORT = "import numpy, pandas, matplotlib.pyplot"


def course_runtime_starts(samples: int = 10) -> dict[str, Any]:
    """Kernels of a course runtime (one tiny package on top of the kernel runtime): started
    by bubblewrap (as every course kernel was before course-runtime zygotes), and forked
    from the runtime's own zygote; the kernel runtime's zygote as the baseline. Each start
    is timed to its first kernel_info reply, then to the end of a first cell importing the
    scientific stack (what a notebook does first). Modes alternate, sample by sample."""
    load_before = os.getloadavg()
    root = state.state_dir() / f"bench-course-runtimes-{os.getpid()}"
    os.environ["SANDBOX_COURSE_RUNTIMES"] = str(root)
    figures: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as index_dir:
            course = build_environment(COURSE_PINS, index_url=write_index(Path(index_dir)))
        started = time.perf_counter()
        zygotes.zygote_for(course)
        figures["course_zygote_first_start_ms"] = round(ms_since(started), 1)
        launch.start_kernel(limits=Limits(), mode="zygote").shutdown()  # the default zygote
        kinds = {
            "default_zygote": ("zygote", None),
            "course_bwrap": ("bwrap", course),
            "course_zygote": ("zygote", course),
        }
        starts: dict[str, list[float]] = {name: [] for name in kinds}
        firsts: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(samples):
            for name, (mode, runtime_dir) in kinds.items():
                started = time.perf_counter()
                kernel = launch.start_kernel(
                    limits=Limits(cell_timeout_s=120), mode=mode, runtime_dir=runtime_dir
                )
                starts[name].append(ms_since(started))
                assert kernel.execute(STACK_IMPORT).status == "ok"
                firsts[name].append(ms_since(started))
                kernel.shutdown(wait=True)
        for name in kinds:
            figures[f"{name}_start_ms_p50"] = p50(starts[name])
            figures[f"{name}_start_and_stack_import_ms_p50"] = p50(firsts[name])
    finally:
        zygotes.stop_all()
        drain_destroyed()
        shutil.rmtree(root, ignore_errors=True)
    figures["samples"] = samples
    figures["load_average_before"] = [round(load, 2) for load in load_before]
    figures["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    return figures


def course_runtime_only() -> int:
    figures = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures["course_runtime"] = course_runtime_starts()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures["course_runtime"], indent=2, sort_keys=True))
    return 0


def main() -> int:
    runtime.build_runtime()
    if sys.argv[1:] == ["--course-runtime"]:
        return course_runtime_only()
    mode = launch.sandbox_mode()
    notebook = REFERENCE.read_bytes()
    load_before = os.getloadavg()[0]
    handouts, roundtrips = handout_and_roundtrip(mode)
    figures: dict[str, Any] = {
        "mode": mode,
        "handout_first_cell_ms_p50": p50(handouts),
        "cold_start_ms_p50": p50(cold_start_ms(mode, SAMPLES)),
        "cell_roundtrip_ms_p50": p50(roundtrips),
        "idle_kernel_unique_mib": idle_kernel_unique_mib(mode),
        **trusted_per_test_ms(mode),
        **trusted_spawn_ms(),
        **sustained_runs_per_s(mode, notebook),
        "sustained_seconds": SUSTAINED_S,
    }
    if mode == "zygote":
        figures["cold_start_bwrap_ms_p50"] = p50(cold_start_ms("bwrap", 5))
    figures["course_runtime"] = course_runtime_starts()
    figures["fresh_nbclient_s"] = fresh_nbclient_s(notebook)
    figures["nbgrader_autograde_s"] = nbgrader_autograde_s(notebook)
    figures["load_average_before"] = round(load_before, 2)
    figures["cpus"] = os.cpu_count()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
