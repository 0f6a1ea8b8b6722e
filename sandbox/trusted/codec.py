"""Plain data on the side channel between the trusted runner and the learner's kernel.

A frame is a JSON header plus binary buffers. Values are JSON types, tagged containers,
numpy arrays as .npy (``allow_pickle=False``), pandas objects by a typed encoding, and
handles for everything else. The decoder builds only genuine builtin, numpy and pandas
objects, so nothing the kernel sends can carry behaviour into the trusted process.

This module is self-contained (stdlib, plus numpy and pandas when already imported):
its source is also sent into the learner's kernel, where the same encoder answers.
"""

import datetime as _dt
import decimal as _decimal
import fractions as _fractions
import io as _io
import json as _json
import socket as _socket
import struct as _struct
import sys as _sys
import weakref as _weakref
from collections.abc import Callable
from typing import Any

MAX_FRAME_BYTES = 512 << 20
MAX_DEPTH = 64
_PREFIX = _struct.Struct("!II")
_LENGTH = _struct.Struct("!Q")
_READ_AHEAD = 1 << 16
# Bytes read past the frame asked for, by socket (its next frame, already arrived).
_PENDING: Any = _weakref.WeakKeyDictionary()

Node = Any
Fallback = Callable[[Any], Node]


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame or value."""


def send_frame(sock: _socket.socket, header: dict[str, Any], buffers: list[bytes]) -> None:
    if "$fast" in header:
        body = header["$fast"] + _FAST_ID.pack(header["id"]) + header["packed"]
        sock.sendall(_PREFIX.pack(len(body), _FAST) + body)
        return
    body = _json.dumps(header, separators=(",", ":")).encode()
    lengths = b"".join(_LENGTH.pack(len(b)) for b in buffers)
    sock.sendall(b"".join([_PREFIX.pack(len(body), len(buffers)), lengths, body, *buffers]))


def _recv_exact(sock: _socket.socket, size: int) -> bytes:
    """``size`` bytes, reading ahead what is already there: a small frame is one recv."""
    pending = _PENDING.get(sock)
    if pending is None:
        pending = _PENDING[sock] = bytearray()
    while len(pending) < size:
        chunk = sock.recv(min(max(size - len(pending), _READ_AHEAD), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        pending += chunk
    data = bytes(pending[:size])
    del pending[:size]
    return data


def recv_frame(sock: _socket.socket) -> tuple[dict[str, Any], list[bytes]]:
    body_len, count = _PREFIX.unpack(_recv_exact(sock, _PREFIX.size))
    if count == _FAST:
        if body_len > _FAST_MAX_BYTES:
            raise ProtocolError("frame too large")
        return _fast_header(_recv_exact(sock, body_len)), []
    if count > 100_000:
        raise ProtocolError("too many buffers")
    lengths = [_LENGTH.unpack(_recv_exact(sock, 8))[0] for _ in range(count)]
    if body_len + sum(lengths) > MAX_FRAME_BYTES:
        raise ProtocolError("frame too large")
    try:
        header = _json.loads(_recv_exact(sock, body_len))
    except ValueError as exc:
        raise ProtocolError("header is not JSON") from exc
    if type(header) is not dict or "$fast" in header:
        raise ProtocolError("header is not an object")
    return header, [_recv_exact(sock, n) for n in lengths]


# ---------------------------------------------------------------- numbers only
# A test's function called in a loop (Newton, quadrature, an ODE right-hand side) sends
# and returns a few numbers per call: those frames skip JSON and the tagged encoding.
# ``fast_frame`` makes one; the receiver gets {"$fast": kind, "id": n, "v": value} with
# ``value`` a float, int, bool, None, or a flat tuple or list of them, nothing else.

_FAST = 0xFFFFFFFF  # the buffer count that marks a numbers-only frame
_FAST_ID = _struct.Struct("!I")
_FAST_ITEMS = 64
_FAST_MAX_BYTES = 16 + 10 * _FAST_ITEMS
_FAST_KINDS = {b"C": "call", b"K": "ok"}
_FAST_WIRE = {kind: wire for wire, kind in _FAST_KINDS.items()}
_FAST_CODES = {float: "d", int: "q", bool: "?"}
_FAST_CONTAINERS = {b"s": None, b"t": tuple, b"l": list}
_INT64 = 1 << 63


def fast_frame(kind: str, ident: int, value: Any) -> dict[str, Any] | None:
    """A numbers-only frame for ``send_frame`` (kind "call": a test function's arguments as
    a tuple; "ok": its result), or None when ``value`` is anything else."""
    container = type(value)
    if container is tuple or container is list:
        if len(value) > _FAST_ITEMS:
            return None
        items, tag = value, (b"t" if container is tuple else b"l")
    else:
        items, tag = (value,), b"s"
    codes, numbers = [], []
    for item in items:
        code = _FAST_CODES.get(type(item))
        if code is not None:
            if code == "q" and not -_INT64 <= item < _INT64:
                return None
            numbers.append(item)
        elif item is None:
            code = "x"
        else:
            return None
        codes.append(code)
    fmt = "".join(codes)
    packed = tag + bytes([len(fmt)]) + fmt.encode() + _struct.pack("!" + fmt, *numbers)
    return {"$fast": _FAST_WIRE[kind], "id": ident, "packed": packed}


def _fast_header(body: bytes) -> dict[str, Any]:
    try:
        kind = _FAST_KINDS[body[:1]]
        (ident,) = _FAST_ID.unpack_from(body, 1)
        container = _FAST_CONTAINERS[body[5:6]]
        fmt = body[7 : 7 + body[6]].decode("ascii")
        if len(fmt) != body[6] or fmt.strip("dq?x") or (container is None and len(fmt) != 1):
            raise ValueError("bad codes")
        numbers = iter(_struct.unpack("!" + fmt, body[7 + len(fmt) :]))
    except (KeyError, IndexError, ValueError, UnicodeDecodeError, _struct.error) as exc:
        raise ProtocolError("malformed numbers frame") from exc
    items = [None if code == "x" else next(numbers) for code in fmt]
    value = items[0] if container is None else container(items)
    return {"$fast": kind, "id": ident, "v": value}


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data: its classes (module, name) and its message."""
    chain = []
    for klass in type(exc).__mro__:
        chain.append([str(getattr(klass, "__module__", "")), str(getattr(klass, "__name__", ""))])
    try:
        message = str(exc)[:2000]
    except BaseException:  # a learner's __str__ may raise anything
        message = "<unprintable exception>"
    return {"mro": chain[:50], "message": message}


# ---------------------------------------------------------------- encoding


def _numpy() -> Any:
    # Only a numpy the process already uses: the codec never imports it by itself.
    return _sys.modules.get("numpy")


def _pandas() -> Any:
    return _sys.modules.get("pandas")


def _npy(array: Any, bufs: list[bytes]) -> int:
    out = _io.BytesIO()
    _numpy().save(out, array, allow_pickle=False)
    bufs.append(out.getvalue())
    return len(bufs) - 1


def encode(value: Any, bufs: list[bytes], fallback: Fallback, depth: int = 0) -> Node:
    """Encode ``value``; ``fallback`` handles whatever is not plain data (or raises)."""
    if depth > MAX_DEPTH:
        raise ValueError("value is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    node = _encode_builtin(value, kind, bufs, fallback, depth + 1)
    if node is None:
        node = _encode_scientific(value, bufs, fallback, depth + 1)
    return fallback(value) if node is None else node


def _encode_builtin(value: Any, kind: type, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    def enc(item: Any) -> Node:
        return encode(item, bufs, fb, depth)

    if kind is list:
        return [enc(v) for v in value]
    if kind is tuple:
        return {"$": "t", "v": [enc(v) for v in value]}
    if kind is dict:
        return {"$": "d", "v": [[enc(k), enc(v)] for k, v in value.items()]}
    if kind in (set, frozenset):
        return {"$": "s" if kind is set else "fs", "v": [enc(v) for v in value]}
    if kind is complex:
        return {"$": "c", "v": [value.real, value.imag]}
    if kind in (bytes, bytearray):
        bufs.append(bytes(value))
        return {"$": "b", "i": len(bufs) - 1}
    if kind is slice:
        return {"$": "sl", "v": [enc(value.start), enc(value.stop), enc(value.step)]}
    if value is Ellipsis:
        return {"$": "el"}
    return _encode_stdlib_value(value, kind)


def _encode_stdlib_value(value: Any, kind: type) -> Node:
    if kind is _decimal.Decimal:
        return {"$": "dec", "v": str(value)}
    if kind is _fractions.Fraction:
        return {"$": "fr", "v": [str(value.numerator), str(value.denominator)]}
    if kind in (_dt.datetime, _dt.date, _dt.time):
        tag = {_dt.datetime: "dt", _dt.date: "da", _dt.time: "ti"}[kind]
        return {"$": tag, "v": value.isoformat()}
    if kind is _dt.timedelta:
        return {"$": "td", "v": [value.days, value.seconds, value.microseconds]}
    return None


def _encode_scientific(value: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    np = _numpy()
    if np is not None:
        if type(value) is np.ndarray:
            if value.dtype.kind == "O":
                flat = [encode(v, bufs, fb, depth) for v in value.ravel().tolist()]
                return {"$": "oa", "shape": list(value.shape), "v": flat}
            if value.dtype.kind != "V":
                return {"$": "nd", "i": _npy(value, bufs)}
        if isinstance(value, np.generic) and value.dtype.kind not in "OV":
            return {"$": "ns", "i": _npy(np.asarray(value), bufs)}
    pd = _pandas()
    if pd is not None:
        return _encode_pandas(pd, value, bufs, fb, depth)
    return None


def _encode_pandas(pd: Any, value: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    kind = type(value)
    if kind is pd.DataFrame:
        columns = [
            _encode_column(pd, value.iloc[:, i], bufs, fb, depth) for i in range(value.shape[1])
        ]
        return {
            "$": "df",
            "columns": _encode_index(pd, value.columns, bufs, fb, depth),
            "index": _encode_index(pd, value.index, bufs, fb, depth),
            "data": columns,
        }
    if kind is pd.Series:
        return {
            "$": "se",
            "name": encode(value.name, bufs, fb, depth),
            "index": _encode_index(pd, value.index, bufs, fb, depth),
            "data": _encode_column(pd, value, bufs, fb, depth),
        }
    if isinstance(value, pd.Index):
        return _encode_index(pd, value, bufs, fb, depth)
    if value is pd.NA:
        return {"$": "na"}
    if value is pd.NaT:
        return {"$": "nat"}
    if kind is pd.Timestamp:
        return {"$": "ts", "v": value.isoformat()}
    if kind is pd.Timedelta:
        return {"$": "tdl", "v": str(value.value)}
    return None


def _encode_index(pd: Any, index: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    if type(index) is pd.RangeIndex:
        return {
            "$": "ri",
            "v": [index.start, index.stop, index.step],
            "name": encode(index.name, bufs, fb, depth),
        }
    if type(index) is pd.MultiIndex:
        levels = [
            _encode_column(pd, index.get_level_values(i), bufs, fb, depth)
            for i in range(index.nlevels)
        ]
        return {
            "$": "mi",
            "levels": levels,
            "names": [encode(n, bufs, fb, depth) for n in index.names],
        }
    return {
        "$": "ix",
        "name": encode(index.name, bufs, fb, depth),
        "data": _encode_column(pd, index, bufs, fb, depth),
    }


def _encode_column(pd: Any, values: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    np = _numpy()
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = values.array if isinstance(values, pd.Index) else values.cat
        return {
            "$": "cat",
            "codes": _npy(np.asarray(cat.codes), bufs),
            "ordered": dtype.ordered,
            "categories": _encode_index(pd, dtype.categories, bufs, fb, depth),
        }
    if isinstance(dtype, np.dtype) and dtype.kind not in "OV":
        return {"$": "npy", "i": _npy(np.asarray(values.to_numpy()), bufs)}
    items = [encode(v, bufs, fb, depth + 1) for v in values.tolist()]
    return {"$": "obj", "dtype": str(dtype), "v": items}


# ---------------------------------------------------------------- decoding


class Decoder:
    """Builds plain values from nodes; handles and modules go to the given callbacks."""

    def __init__(
        self,
        *,
        on_handle: Callable[[dict[str, Any]], Any],
        on_module: Callable[[dict[str, Any]], Any],
        on_callback: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self._on_handle = on_handle
        self._on_module = on_module
        self._on_callback = on_callback

    def decode(self, node: Node, bufs: list[bytes], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(v, bufs, depth + 1) for v in node]
        if type(node) is not dict or type(node.get("$")) is not str:
            raise ProtocolError("malformed value")
        method = getattr(self, "_tag_" + node["$"], None)
        if method is None:
            raise ProtocolError("unknown value tag")
        try:
            return method(node, bufs, depth + 1)
        except ProtocolError:
            raise
        except Exception as exc:
            raise ProtocolError(f"bad {node['$']!r} value: {exc}") from exc

    def _items(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> list[Any]:
        if type(node["v"]) is not list:
            raise ProtocolError("malformed container")
        return [self.decode(v, bufs, depth) for v in node["v"]]

    def _tag_t(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> tuple[Any, ...]:
        return tuple(self._items(node, bufs, depth))

    def _tag_d(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> dict[Any, Any]:
        pairs = self._items(node, bufs, depth)
        if any(type(p) is not list or len(p) != 2 for p in pairs):
            raise ProtocolError("malformed dict")
        return {_plain_key(k): v for k, v in pairs}

    def _tag_s(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> set[Any]:
        return {_plain_key(v) for v in self._items(node, bufs, depth)}

    def _tag_fs(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> frozenset[Any]:
        return frozenset(self._tag_s(node, bufs, depth))

    def _tag_c(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> complex:
        real, imag = node["v"]
        return complex(_number(real), _number(imag))

    def _tag_b(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> bytes:
        return bufs[_index(node["i"])]

    def _tag_sl(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> slice:
        start, stop, step = self._items(node, bufs, depth)
        return slice(start, stop, step)

    def _tag_el(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return Ellipsis

    def _tag_dec(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _decimal.Decimal(_text(node["v"]))

    def _tag_fr(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        num, den = node["v"]
        return _fractions.Fraction(int(_text(num)), int(_text(den)))

    def _tag_dt(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _dt.datetime.fromisoformat(_text(node["v"]))

    def _tag_da(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _dt.date.fromisoformat(_text(node["v"]))

    def _tag_ti(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _dt.time.fromisoformat(_text(node["v"]))

    def _tag_td(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        days, seconds, micro = (_integer(v) for v in node["v"])
        return _dt.timedelta(days=days, seconds=seconds, microseconds=micro)

    def _tag_h(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        _integer(node["id"])
        return self._on_handle(node)

    def _tag_m(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        _text(node["name"])
        return self._on_module(node)

    def _tag_cb(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        # A test's function: the trusted side keeps it, the kernel gets something to call.
        _integer(node["id"])
        if self._on_callback is None:
            raise ProtocolError("unexpected test function")
        return self._on_callback(node)

    # numpy and pandas: only when this process has them.
    def _load_npy(self, index: Any, bufs: list[bytes]) -> Any:
        np = _require("numpy")
        array = np.load(_io.BytesIO(bufs[_index(index)]), allow_pickle=False)
        if type(array) is not np.ndarray or array.dtype.kind in "OV":
            raise ProtocolError("not a plain array")
        return array

    def _tag_nd(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return self._load_npy(node["i"], bufs)

    def _tag_ns(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        array = self._load_npy(node["i"], bufs)
        if array.ndim != 0:
            raise ProtocolError("scalar is not 0-d")
        return array[()]

    def _tag_oa(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        np = _require("numpy")
        items = self._items(node, bufs, depth)
        shape = tuple(_integer(n) for n in node["shape"])
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array.reshape(shape)

    def _tag_na(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").NA

    def _tag_nat(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").NaT

    def _tag_ts(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").Timestamp(_text(node["v"]))

    def _tag_tdl(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").Timedelta(int(_text(node["v"])), unit="ns")

    def _tag_df(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        index = self._index(node["index"], bufs, depth)
        columns = self._index(node["columns"], bufs, depth)
        data = [self._column(c, bufs, depth) for c in _list(node["data"])]
        frame = pd.DataFrame(dict(enumerate(data)), index=index)
        frame.columns = columns
        return frame

    def _tag_se(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        name = _plain_key(self.decode(node["name"], bufs, depth))
        index = self._index(node["index"], bufs, depth)
        return pd.Series(self._column(node["data"], bufs, depth), index=index, name=name)

    def _tag_ri(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return self._index(node, bufs, depth)

    _tag_mi = _tag_ix = _tag_ri

    def _index(self, node: Any, bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        tag = node.get("$") if type(node) is dict else None
        if tag == "ri":
            start, stop, step = (_integer(v) for v in node["v"])
            name = _plain_key(self.decode(node["name"], bufs, depth))
            return pd.RangeIndex(start, stop, step, name=name)
        if tag == "mi":
            levels = [self._column(c, bufs, depth) for c in _list(node["levels"])]
            names = [_plain_key(self.decode(n, bufs, depth)) for n in _list(node["names"])]
            return pd.MultiIndex.from_arrays(levels, names=names)
        if tag == "ix":
            name = _plain_key(self.decode(node["name"], bufs, depth))
            return pd.Index(self._column(node["data"], bufs, depth), name=name)
        raise ProtocolError("malformed index")

    def _column(self, node: Any, bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        tag = node.get("$") if type(node) is dict else None
        if tag == "npy":
            return self._load_npy(node["i"], bufs)
        if tag == "cat":
            categories = self._index(node["categories"], bufs, depth)
            codes = self._load_npy(node["codes"], bufs)
            return pd.Categorical.from_codes(
                codes, categories=categories, ordered=node["ordered"] is True
            )
        if tag == "obj":
            items = self._items(node, bufs, depth)
            dtype = _text(node["dtype"])
            if dtype == "object":
                array = _require("numpy").empty(len(items), dtype=object)
                array[:] = items
                return array
            # A dtype name is parsed, never evaluated: pandas_dtype only looks names up.
            return pd.array(items, dtype=pd.api.types.pandas_dtype(dtype))
        raise ProtocolError("malformed column")


def _require(name: str) -> Any:
    module = _sys.modules.get(name)
    if module is None:
        __import__(name)
        module = _sys.modules[name]
    return module


def _plain_key(value: Any) -> Any:
    hash(value)  # decoded values are genuine builtins: hashing them runs no foreign code
    return value


def _index(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ProtocolError("bad buffer index")
    return value


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise ProtocolError("expected an integer")
    return value


def _number(value: Any) -> float:
    if type(value) not in (int, float):
        raise ProtocolError("expected a number")
    return float(value)


def _text(value: Any) -> str:
    if type(value) is not str or len(value) > 10_000:
        raise ProtocolError("expected a short string")
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise ProtocolError("expected a list")
    return value
