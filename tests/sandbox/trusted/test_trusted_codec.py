"""The side channel's codec: plain data round-trips; anything else is refused."""

from __future__ import annotations

import datetime as dt
import io
import pickle
import socket
import struct
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from sandbox.trusted.codec import encode
from sandbox.trusted.decoding import Decoder
from sandbox.trusted.frames import ProtocolError, fast_frame, recv_frame, send_frame


def refuse(value):
    raise TypeError(f"not plain: {type(value).__name__}")


def strict() -> Decoder:
    return Decoder(
        on_handle=lambda node: ("handle", node["id"]),
        on_module=lambda node: ("module", node["name"]),
    )


def roundtrip(value):
    bufs: list[bytes] = []
    node = encode(value, bufs, refuse)
    return strict().decode(node, bufs)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2**100,
        1.5,
        float("inf"),
        "text",
        [1, [2]],
        (1, "a"),
        {1: "a", (2, 3): [4]},
        {1, 2},
        frozenset({"x"}),
        1 + 2j,
        b"\x00bytes",
        slice(1, None, 2),
        Decimal("1.10"),
        Fraction(1, 3),
        dt.datetime(2026, 1, 2, 3, 4, 5),
        dt.date(2026, 1, 2),
        dt.time(1, 2),
        dt.timedelta(days=1, seconds=3),
    ],
)
def test_plain_values_round_trip_with_their_exact_type(value):
    result = roundtrip(value)
    assert result == value and type(result) is type(value)


def test_numpy_arrays_and_scalars_round_trip():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(roundtrip(array), array) and roundtrip(array).dtype == np.float32
    assert roundtrip(np.int16(7)) == 7 and type(roundtrip(np.int16(7))) is np.int16
    mixed = np.array([1, "a", None], dtype=object)
    assert roundtrip(mixed).tolist() == [1, "a", None]


def test_pandas_frames_series_and_indexes_round_trip():
    frame = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, None, 2.0],
            "s": ["a", None, "c"],
            "when": pd.to_datetime(["2026-01-01", "2026-01-02", None]),
            "c": pd.Categorical(["u", "v", "u"]),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "tz": pd.to_datetime(["2026-01-01"] * 3).tz_localize("UTC"),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    pd.testing.assert_frame_equal(roundtrip(frame), frame)
    multi = frame.set_index(["n", "s"])
    pd.testing.assert_frame_equal(roundtrip(multi), multi)
    pd.testing.assert_series_equal(roundtrip(frame["x"]), frame["x"])
    pd.testing.assert_index_equal(roundtrip(pd.RangeIndex(2, 10, 2)), pd.RangeIndex(2, 10, 2))


def test_anything_else_goes_to_the_fallback():
    with pytest.raises(TypeError, match="not plain: function"):
        encode([1, lambda: 0], [], refuse)


@pytest.mark.parametrize(
    "node",
    [
        {"$": "unknown"},
        {"no": "tag"},
        {"$": "d", "v": [[1]]},
        {"$": "d", "v": [[[1], 2]]},
        {"$": "h", "id": "1"},
        {"$": "b", "i": 5},
        {"$": "c", "v": ["1", 2]},
        {"$": "s", "v": [[1]]},
        {"$": "dec", "v": 3},
    ],
)
def test_the_strict_decoder_rejects_malformed_values(node):
    with pytest.raises(ProtocolError):
        strict().decode(node, [])


def test_the_strict_decoder_refuses_pickled_arrays():
    # given an .npy of objects, which can only be read by unpickling
    out = io.BytesIO()
    np.save(out, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError):
        strict().decode({"$": "nd", "i": 0}, [out.getvalue()])
    with pytest.raises(ProtocolError):
        strict().decode({"$": "nd", "i": 0}, [pickle.dumps(object())])


def test_the_strict_decoder_refuses_deep_nesting():
    node: list = []
    for _ in range(200):
        node = [node]
    with pytest.raises(ProtocolError):
        strict().decode(node, [])


def test_frames_carry_a_header_and_buffers_and_refuse_oversized_ones():
    left, right = socket.socketpair()
    with left, right:
        send_frame(left, {"op": "x"}, [b"abc", b""])
        assert recv_frame(right) == ({"op": "x"}, [b"abc", b""])
        left.sendall(struct.pack("!II", 10, 1) + struct.pack("!Q", 1 << 40))
        with pytest.raises(ProtocolError):
            recv_frame(right)


@pytest.mark.parametrize(
    "value", [2.5, -3, True, None, (1.0, 2, None, False), [0.5] * 64, -(2**63), float("inf")]
)
def test_numbers_frames_keep_each_numbers_type(value):
    left, right = socket.socketpair()
    with left, right:
        send_frame(left, fast_frame("ok", 7, value), [])
        header, bufs = recv_frame(right)
    assert header == {"$fast": "ok", "id": 7, "v": value} and bufs == []
    assert type(header["v"]) is type(value)
    if isinstance(value, tuple | list):
        assert [type(v) for v in header["v"]] == [type(v) for v in value]


@pytest.mark.parametrize(
    "value", ["s", 2**63, np.float64(1.0), ((1.0,),), [1.0] * 65, 1j, {"a": 1}]
)
def test_anything_but_a_few_plain_numbers_takes_the_general_encoding(value):
    assert fast_frame("call", 1, value) is None


@pytest.mark.parametrize(
    "body",
    [
        b"Z" + struct.pack("!I", 1) + b"s\x01d" + struct.pack("!d", 1.0),  # unknown kind
        b"K" + struct.pack("!I", 1) + b"s\x01O" + b"\x00" * 8,  # not a number code
        b"K" + struct.pack("!I", 1) + b"s\x01d" + b"\x00" * 4,  # too short
        b"K" + struct.pack("!I", 1) + b"s\x02dd" + b"\x00" * 16,  # two values, no container
        b"K" + struct.pack("!I", 1) + b"q\x01d" + b"\x00" * 8,  # unknown container
        b"K" + struct.pack("!I", 1) + b"t\x05dd",  # fewer codes than announced
    ],
)
def test_a_malformed_numbers_frame_is_refused(body):
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack("!II", len(body), 0xFFFFFFFF) + body)
        with pytest.raises(ProtocolError):
            recv_frame(right)


def test_a_json_header_cannot_pose_as_a_numbers_frame():
    left, right = socket.socketpair()
    with left, right:
        body = b'{"$fast":"ok","id":1,"v":"text"}'
        left.sendall(struct.pack("!II", len(body), 0) + body)
        with pytest.raises(ProtocolError):
            recv_frame(right)
        left.sendall(struct.pack("!II", 10_000, 0xFFFFFFFF))
        with pytest.raises(ProtocolError):
            recv_frame(right)


def test_frames_that_arrive_together_are_read_one_at_a_time():
    left, right = socket.socketpair()
    with left, right:
        send_frame(left, {"op": "a"}, [b"1"])
        send_frame(left, fast_frame("call", 3, (1.5,)), [])
        send_frame(left, {"op": "b"}, [b"x" * 200_000])
        assert recv_frame(right) == ({"op": "a"}, [b"1"])
        assert recv_frame(right) == ({"$fast": "call", "id": 3, "v": (1.5,)}, [])
        assert recv_frame(right) == ({"op": "b"}, [b"x" * 200_000])


def test_only_public_data_modules_and_assert_helpers_have_trusted_twins():
    from sandbox.trusted.policy import trusted_module_name, trusted_object

    assert trusted_module_name("numpy.linalg") and trusted_module_name("math")
    for name in ("pickle", "os", "subprocess", "unittest.__main__", "numpy._core", "builtins"):
        assert not trusted_module_name(name)
    assert trusted_object("numpy.testing", "assert_allclose") is np.testing.assert_allclose
    assert trusted_object("numpy", "allclose") is np.allclose
    for module, name in (
        ("pickle", "loads"),
        ("os", "system"),
        ("unittest.mock", "MagicMock"),
        ("math", "sqrt"),
        ("numpy", "load"),
        ("builtins", "eval"),
    ):
        assert trusted_object(module, name) is None
