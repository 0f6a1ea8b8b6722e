"""How much a request may carry: its body's size and its JSON's nesting.

One rule for both servers' edges (the web app's ASGI guard, the model gateway's HTTP server)
and for JSON that arrives inside an upload (a notebook file): Python's parser recurses once
per level, so a few kilobytes of `[[[[...` end in RecursionError instead of an answer.
"""

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64

# A JSON string, read without backtracking (possessive quantifiers): its brackets do not nest.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class JsonTooDeep(ValueError):
    def __init__(self, max_depth: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"the JSON is nested more than {max_depth} levels deep")
        self.max_depth = max_depth


def json_depth_exceeds(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether `data` nests arrays and objects deeper than `max_depth` (strings skipped).
    Linear in the size; it need not be valid JSON."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > max_depth:
            return True
    return False


def json_loads_bounded(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads, refusing (JsonTooDeep, a ValueError) JSON nested deeper than `max_depth`."""
    if json_depth_exceeds(data, max_depth=max_depth):
        raise JsonTooDeep(max_depth)
    return json.loads(data)
