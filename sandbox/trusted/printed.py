"""What the learner's code prints while the kernel answers the trusted side.

A test that calls a learner's function expects what that function prints, as in otter's
doctests. The kernel keeps that text (up to a limit) and sends it back with its answer as
a plain string; the trusted side prints it where the test's own output goes.

This module is self-contained (stdlib only): its source is also sent into the learner's
kernel, before the helper's.
"""

import io

# At most this many characters cross with one answer, the marker included when cut.
PRINTED_LIMIT = 20_000
PRINTED_CUT = "\n[printed output cut: too long]\n"
# Requests that run none of the learner's code: nothing printed crosses with their answer.
SILENT_OPS = frozenset({"resolve", "setglobal", "delglobal", "release"})


class Printed(io.StringIO):
    """What the learner's code prints while it answers a request: it goes back with the
    answer (the trusted side prints it where the test expects it), kept up to a limit."""

    def __init__(self) -> None:
        super().__init__()
        self.cut = False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        text = str.__str__(text)
        room = PRINTED_LIMIT - len(PRINTED_CUT) - self.tell()
        if len(text) > room:
            self.cut = True
        return super().write(text[: max(room, 0)]) if room > 0 else 0

    def take(self) -> str:
        """The text printed since the last take, marked when some was cut."""
        if not self.tell() and not self.cut:
            return ""
        text = self.getvalue() + (PRINTED_CUT if self.cut else "")
        self.seek(0)
        self.truncate()
        self.cut = False
        return text
