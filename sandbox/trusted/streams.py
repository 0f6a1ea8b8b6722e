"""The test's random streams, shared with the learner's code as in one nbgrader process.

A test that seeds numpy's global generator (or ``random``) and then calls the learner's
function expects that function's draws to follow its own, as they do when tests and answers
share one process. Before a request that may run the learner's code, the trusted side's
global states go to the kernel as plain data when they changed since the last time; never
the other way: a state the learner's code chose never chooses the test's inputs.
"""

from __future__ import annotations

import ctypes
import random
import sys
from typing import Any

# MT19937's state in memory: 624 32-bit words and a position.
_MT_STATE_BYTES = 624 * 4 + 4


class RandomStreams:
    """Cheap fingerprints of the trusted side's global random states, and their values."""

    def __init__(self) -> None:
        self.seen: tuple[Any, Any] = self._fingerprint()

    def changed(self, bufs: list[bytes]) -> dict[str, Any] | None:
        """The states to set in the kernel, or None when neither changed since last sent."""
        now = self._fingerprint()
        if now == self.seen:
            return None
        self.seen = now
        python = random.getstate()
        states: dict[str, Any] = {"py": [python[0], list(python[1]), python[2]]}
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            _, keys, pos, has_gauss, gauss = numpy.random.get_state(legacy=True)
            bufs.append(keys.astype("<u4").tobytes())
            states["np"] = [len(bufs) - 1, int(pos), int(has_gauss), float(gauss)]
        return states

    def _fingerprint(self) -> tuple[Any, Any]:
        return random.getstate()[1], _numpy_words()


def _numpy_words() -> bytes | None:
    """numpy's global MT19937 state as raw bytes (copying them costs a microsecond, where
    ``get_state`` builds a dict and an array)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    generator = numpy.random.mtrand._rand._bit_generator
    return ctypes.string_at(generator.ctypes.state_address, _MT_STATE_BYTES)
