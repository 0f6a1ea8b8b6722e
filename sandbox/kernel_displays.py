"""Inside the kernel: text-only displays for a cell whose outputs nobody will see.

Installed into the kernel runtime by `python -m sandbox build-runtime` and loaded as an
IPython extension by the kernel's command line (isolation.KERNEL_OPTIONS). Before each
cell it reads the execute request's metadata: with `"rich_outputs": false`, IPython's
formatters compute only text/plain for that cell, so a figure is closed as usual but never
drawn (drawing a small plot to PNG costs ~90 ms, most of a short exercise's grading); any
next other request gets back the formats it had (a learner's own choice of formats is
kept). The choice rides on the request: no extra message.

Learner code can remove the hook; that only costs the learner's own run time.
"""

from __future__ import annotations

from typing import Any

TEXT_ONLY = ["text/plain"]


def load_ipython_extension(shell: Any) -> None:
    formatter = shell.display_formatter
    saved: list[list[str]] = []  # the formats before a text-only cell, while one is on

    def before_cell(info: Any) -> None:
        kernel = getattr(shell, "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
        metadata = parent.get("metadata") if isinstance(parent, dict) else None
        rich = not isinstance(metadata, dict) or metadata.get("rich_outputs") is not False
        if not rich and not saved:
            saved.append(list(formatter.active_types))
            formatter.active_types = TEXT_ONLY
        elif rich and saved:
            formatter.active_types = saved.pop()

    shell.events.register("pre_run_cell", before_cell)
