"""Helpers for tests that run code in real kernels and read back what it printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.kernel import Kernel
from sandbox.limits import CellResult

StartKernel = Callable[..., Kernel]


def stdout(result: CellResult) -> str:
    return "".join(o["text"] for o in result.outputs if o["output_type"] == "stream")


def report(kernel: Kernel, code: str, **kwargs: Any) -> Any:
    """Run code that prints one JSON document as its last line; return it decoded."""
    result = kernel.execute(code, **kwargs)
    assert result.status == "ok", result.outputs
    return json.loads(stdout(result).strip().splitlines()[-1])


def once_printed(text: str, action: Callable[[], object]) -> Callable[[dict[str, Any]], None]:
    """An `on_output` that calls `action` once, when the cell's output so far holds `text`.

    One print can arrive in several messages: the kernel's timed flush (0.2 s after a
    write) may send 'sleeping' before the '\\n' that print writes next. A test matching
    whole messages would then wait for ever, its interrupt never sent.
    """
    printed: list[str] = []
    done: list[bool] = []

    def on_output(output: dict[str, Any]) -> None:
        printed.append(str(output.get("text", "")))
        if not done and text in "".join(printed):
            done.append(True)
            action()

    return on_output
