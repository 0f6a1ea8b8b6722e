"""The side channel's codec: plain data round-trips; anything else is refused."""

from __future__ import annotations

import datetime as dt
import io
import pickle
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from sandbox.trusted.codec import encode
from sandbox.trusted.decoding import Decoder
from sandbox.trusted.frames import ProtocolError


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
