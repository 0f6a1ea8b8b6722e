"""Inside the kernel: no debug records built per execute request.

Installed into the kernel runtime by `python -m sandbox build-runtime` and loaded as an
IPython extension by the kernel's command line (isolation.KERNEL_OPTIONS), in every
isolation mode. traitlets leaves the application's logger at DEBUG and filters in its
handler, so each message built several debug records that were thrown away: the logger
now stops at the handlers' own level. (With kernel_outstream's flush and no sleep before
each reply, also in KERNEL_OPTIONS: 3.2 -> 2.1 ms of kernel CPU per one-line cell in a
zygote kernel on the 2-core host.)

Learner code can undo it; that only slows the learner's own cells.
"""

from __future__ import annotations

import logging
from typing import Any


def load_ipython_extension(shell: Any) -> None:
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return
    log = kernel.log
    levels = [handler.level for handler in log.handlers]
    log.setLevel(min(levels) if levels else logging.WARNING)
