"""Running code in a fresh sandbox: a list of cells, or a notebook's code cells."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence

import nbformat

from sandbox import isolation, launch
from sandbox.kernel import Kernel
from sandbox.limits import CellResult, Limits, RunResult, SandboxUserError
from sandbox.pool import KernelPool

logger = logging.getLogger(__name__)

STOP_MESSAGES = {
    "timeout": "The code ran longer than its time limit and was stopped.",
    "memory": "The code used more memory than its limit and was stopped.",
    "output": "The code printed more output than allowed; the rest was cut off.",
    "cpu": "The code used more CPU time than its limit and was stopped.",
    "dead": "The kernel stopped unexpectedly (the code may have exited or crashed it).",
}


def acquire_kernel(*, limits: Limits, pool: KernelPool | None) -> Kernel:
    if isolation.insecure_local():
        logger.warning("sandbox: SANDBOX_INSECURE_LOCAL=1: running code WITHOUT isolation")
    if pool is not None:
        return pool.acquire(limits=limits)
    return launch.start_kernel(limits=limits)


def run_cells(
    cells: Sequence[str],
    *,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so a shared default is safe
    pool: KernelPool | None = None,
    indexes: Sequence[int] | None = None,
) -> RunResult:
    """Run `cells` in order in one fresh kernel, then destroy it.

    A cell that raises does not stop the run; a limit (time, memory, output, cpu, a dead
    kernel) does: the rest are "not_run" and `stopped_by` says which limit.
    """
    indexes = list(indexes) if indexes is not None else list(range(len(cells)))
    started = time.monotonic()
    kernel = acquire_kernel(limits=limits, pool=pool)
    results: list[CellResult] = []
    try:
        for index, code in zip(indexes, cells, strict=True):
            if kernel.stopped_by is not None:
                results.append(CellResult(index=index, status="not_run", outputs=(), duration_s=0))
                continue
            results.append(kernel.execute(code, index=index))
        peak = kernel.peak_memory_mib
    finally:
        kernel.shutdown()
    return RunResult(
        cells=tuple(results),
        stopped_by=kernel.stopped_by,
        peak_memory_mib=peak,
        duration_s=time.monotonic() - started,
    )


def read_notebook(nb: nbformat.NotebookNode | bytes | str) -> nbformat.NotebookNode:
    """A v4 notebook from a node, or JSON text; a broken notebook is the user's error."""
    if isinstance(nb, nbformat.NotebookNode):
        return nb
    try:
        text = nb.decode() if isinstance(nb, bytes) else nb
        return nbformat.reads(text, as_version=4)
    except Exception as error:
        raise SandboxUserError(f"This is not a valid Jupyter notebook: {error}") from error


def run_notebook(
    nb: nbformat.NotebookNode | bytes | str,
    *,
    limits: Limits = Limits(),  # noqa: B008
    pool: KernelPool | None = None,
) -> RunResult:
    """Run a notebook's code cells. Each CellResult's index is the cell's position in the
    notebook (markdown and raw cells are counted, not run)."""
    notebook = read_notebook(nb)
    code_cells = [
        (index, cell.source)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    ]
    return run_cells(
        [source for _, source in code_cells],
        limits=limits,
        pool=pool,
        indexes=[index for index, _ in code_cells],
    )


def raise_for_stop(result: RunResult) -> None:
    """Raise SandboxUserError with a message a learner can act on when a limit stopped it."""
    if result.stopped_by is not None:
        raise SandboxUserError(
            STOP_MESSAGES.get(result.stopped_by, "The run was stopped."),
            stopped_by=result.stopped_by,
        )


def executed_notebook(
    nb: nbformat.NotebookNode | bytes | str, result: RunResult
) -> nbformat.NotebookNode:
    """A copy of the notebook with each code cell's outputs from `result`."""
    notebook = copy.deepcopy(read_notebook(nb))
    by_index: dict[int, CellResult] = {cell.index: cell for cell in result.cells}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and index in by_index:
            cell.outputs = [nbformat.from_dict(o) for o in by_index[index].outputs]
    return notebook
