"""Inside the kernel: text-only displays for a cell whose outputs nobody will see.

Installed into the kernel runtime by `python -m sandbox build-runtime` and loaded as an
IPython extension by the kernel's command line (isolation.KERNEL_OPTIONS). Before each
cell it reads the execute request's metadata: with `"rich_outputs": false`, IPython's
formatters compute only text/plain for that cell, so a figure is closed as usual but never
drawn (drawing a small plot to PNG costs ~90 ms, most of a short exercise's grading); any
next other request gets back the formats it had (a learner's own choice of formats is
kept). The choice rides on the request: no extra message.

A figure is drawn once, by its display. pyplot's own end-of-cell hook draws every changed
figure of an interactive backend; under the inline backend that draw is thrown away, since
the backend displays and closes each figure right after (its PNG is a drawing of its own).
It cost a cell that leaves a plot for the inline backend to show about 40 ms a figure, and
drew the figures of text-only cells too. The hook still draws under any other backend a
learner picks (`%matplotlib widget`, say).

Learner code can remove the hooks; that only costs the learner's own run time.
"""

from __future__ import annotations

import sys
from typing import Any

TEXT_ONLY = ["text/plain"]
INLINE_BACKENDS = {"inline", "module://matplotlib_inline.backend_inline"}


def load_ipython_extension(shell: Any) -> None:
    _text_only_on_request(shell)
    _figures_drawn_by_their_display(shell)


def _text_only_on_request(shell: Any) -> None:
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


def _figures_drawn_by_their_display(shell: Any) -> None:
    """Replace pyplot's end-of-cell draw: at once in a kernel forked from a zygote (pyplot
    was imported there, and registers the hook at the kernel's first figure), else before
    each cell until pyplot is imported."""
    if _replace_pyplot_draw(shell):
        return

    def before_cell(info: Any) -> None:
        if _replace_pyplot_draw(shell):
            shell.events.unregister("pre_run_cell", before_cell)

    shell.events.register("pre_run_cell", before_cell)


def _replace_pyplot_draw(shell: Any) -> bool:
    """False while pyplot is not imported; else replace its hook (where this matplotlib
    has the names used) and say so."""
    pyplot: Any = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return False
    draw_all = getattr(pyplot, "_draw_all_if_interactive", None)
    # The backend as set, without choosing one (which would import a backend).
    backend_set = getattr(getattr(pyplot, "rcParams", None), "_get_backend_or_none", None)
    if draw_all is None or backend_set is None:
        return True

    def _draw_all_if_interactive() -> None:
        if str(backend_set() or "").lower() not in INLINE_BACKENDS:
            draw_all()

    # pyplot registers and unregisters (plt.ioff) its hook by this name.
    pyplot._draw_all_if_interactive = _draw_all_if_interactive
    callbacks = shell.events.callbacks["post_execute"]
    callbacks[:] = [_draw_all_if_interactive if f is draw_all else f for f in callbacks]
    return True
