"""The kernel side of trusted grading as one module: its source, its name, and the
expression that defines it in a learner's kernel.

A zygote of grading kernels defines it before it forks (sandbox.zygote: `zygote_config`),
so its kernels start with it and the runner sends them only the short expression that
starts serving (``runner.helper_expression``); other kernels are sent the whole loader
once. It imports only the kernel-side modules it joins (each of them standard library
only).
"""

from __future__ import annotations

import base64
import hashlib
import marshal
import sys
from pathlib import Path

from . import codec, decoding, frames, kernel_helper, kernel_lending, kernel_patches, printed

FILENAME = "<trusted-helper>"
# One source for the kernel, in dependency order: each module finds the names it imports
# from the package defined by the ones before it.
SOURCE = "\n".join(
    Path(module.__file__ or "").read_text()
    for module in (frames, codec, decoding, printed, kernel_lending, kernel_patches, kernel_helper)
)
KEY = "_trusted_grading_helper_" + hashlib.sha256(SOURCE.encode()).hexdigest()[:16]
# Compiling the helper in the kernel costs tens of milliseconds; loading the code compiled
# here costs one, when the kernel runs the same Python version (else it compiles the source).
_CODE = base64.b64encode(marshal.dumps(compile(SOURCE, FILENAME, "exec"))).decode()
LOADER = (
    f"(__import__('sys').modules.get({KEY!r}) or (lambda m, sys=__import__('sys'): ("
    f"exec(__import__('marshal').loads(__import__('base64').b64decode({_CODE!r})) "
    f"if sys.version_info[:2] == {tuple(sys.version_info[:2])!r} "
    f"and sys.implementation.name == {sys.implementation.name!r} "
    f"else compile({SOURCE!r}, {FILENAME!r}, 'exec'), m.__dict__), "
    f"sys.modules.__setitem__({KEY!r}, m), m)[2])"
    f"(__import__('types').ModuleType({KEY!r})))"
)


def module_from_source() -> dict[str, str]:
    """What a zygote needs to define the helper as its kernels would (zygote_server
    `define_modules`): the module's name in sys.modules, its source, its file name."""
    return {"name": KEY, "source": SOURCE, "filename": FILENAME}
