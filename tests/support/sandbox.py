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
