"""Kernel side of the library state tests share with the learner's code, as under nbgrader:
the random streams (the trusted side is ``streams``) and the library attributes the tests
patched (``patches``).

Sent into the learner's kernel as part of the helper's source (see ``kernel_helper``).
It runs as the learner: a learner who breaks it only changes what their own code sees.
"""

import contextlib
import random
import sys
from collections.abc import Callable
from typing import Any


class LibraryPatches:
    """Library attributes the tests patched: the kernel's originals, to put back."""

    def __init__(self) -> None:
        self.patched: dict[tuple[str, str], tuple[Any, bool, Any]] = {}

    def patch(self, entries: Any, decode: Callable[[Any], Any]) -> None:
        """Set, delete (or put back) library attributes as the tests did on the trusted
        side: a module already imported here, a name, a value (``decode`` reads it)."""
        for entry in entries if type(entries) is list else []:
            if type(entry) is not list or len(entry) not in (2, 3, 4):
                continue
            key = (str(entry[0]), str(entry[1]))
            module = sys.modules.get(key[0])
            if len(entry) == 2 or module is None:
                self.unpatch(key)
                continue
            if key not in self.patched:
                present = key[1] in vars(module)
                self.patched[key] = (module, present, vars(module).get(key[1]))
            with contextlib.suppress(Exception):
                if entry[2] == "del":
                    delattr(module, key[1])
                elif entry[2] == "set" and len(entry) == 4:
                    setattr(module, key[1], decode(entry[3]))

    def unpatch(self, key: tuple[str, str]) -> None:
        if key not in self.patched:
            return
        module, present, value = self.patched.pop(key)
        with contextlib.suppress(Exception):
            if present:
                setattr(module, key[1], value)
            else:
                delattr(module, key[1])

    def unpatch_all(self) -> None:
        for key in list(self.patched):
            self.unpatch(key)


def set_streams(states: dict[str, Any], bufs: list[bytes]) -> None:
    """Continue the test's random streams where the trusted side left them (see
    ``streams``). A learner who broke ``setstate`` here only changes their own draws."""
    with contextlib.suppress(Exception):
        version, words, gauss_next = states["py"]
        random.setstate((version, tuple(words), gauss_next))
    numpy = sys.modules.get("numpy")
    if numpy is not None and "np" in states:
        with contextlib.suppress(Exception):
            index, pos, has_gauss, gauss = states["np"]
            keys = numpy.frombuffer(bufs[index], dtype="<u4")
            numpy.random.set_state(("MT19937", keys, pos, has_gauss, gauss))
