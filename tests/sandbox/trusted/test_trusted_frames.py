"""Frames on the side channel: headers, buffers and numbers-only frames cross intact,
malformed ones are refused, and waiting for one (polling first or not) keeps its timeout."""

from __future__ import annotations

import socket
import struct
import threading

import numpy as np
import pytest

from sandbox.trusted import frames
from sandbox.trusted.frames import ProtocolError, fast_frame, recv_frame, send_frame


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


def test_a_one_float_frame_is_the_general_layout_packed_at_once():
    # given: the documented layout (kind, id, container tag, count, codes, numbers)
    body = b"C" + struct.pack("!I", 3) + b"t\x01d" + struct.pack("!d", 1.5)
    general = struct.pack("!II", len(body), 0xFFFFFFFF) + body
    left, right = socket.socketpair()
    with left, right:
        # when
        send_frame(left, fast_frame("call", 3, (1.5,)), [])
        # then
        assert right.recv(100) == general


@pytest.fixture(params=["polls first", "sleeps at once"])
def waiting(request, monkeypatch):
    polls = request.param == "polls first"
    monkeypatch.setattr(frames, "_free_cpu", lambda: polls)
    return request.param


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_a_frame_that_comes_later_is_read_whole_however_the_reader_waits(waiting, timeout):
    left, right = socket.socketpair()
    right.settimeout(timeout)
    one_float, one_float_call = fast_frame("ok", 1, 0.5), fast_frame("call", 2, (2.0,))
    assert one_float is not None and one_float_call is not None
    frames_to_send = [(one_float, []), ({"op": "late"}, [b"x" * 10]), (one_float_call, [])]
    started = threading.Event()

    def sender():
        started.wait()
        for header, bufs in frames_to_send:
            send_frame(left, header, bufs)

    thread = threading.Thread(target=sender)
    thread.start()
    with left, right:
        started.set()
        received = [recv_frame(right) for _ in frames_to_send]
        thread.join()
    assert received == [
        ({"$fast": "ok", "id": 1, "v": 0.5}, []),
        ({"op": "late"}, [b"x" * 10]),
        ({"$fast": "call", "id": 2, "v": (2.0,)}, []),
    ]


def test_a_reader_that_polls_still_gives_up_at_its_timeout(waiting):
    # A kernel that never answers must still end the wait: polling first changes nothing.
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(0.2)
        with pytest.raises(TimeoutError):
            recv_frame(right)


def test_a_frame_larger_than_the_socket_buffer_is_sent_whole_with_a_timeout():
    left, right = socket.socketpair()
    left.settimeout(30)
    payload = bytes(range(256)) * 16_384  # 4 MiB: many writes
    received = []
    reader = threading.Thread(target=lambda: received.append(recv_frame(right)))
    reader.start()
    with left, right:
        send_frame(left, {"op": "big"}, [payload])
        reader.join()
    assert received == [({"op": "big"}, [payload])]


def test_after_a_vain_spin_the_next_waits_sleep_at_once(monkeypatch):
    # A slow answer, or another side that shares this CPU, must not cost a spin per wait.
    monkeypatch.setattr(frames, "_free_cpu", lambda: True)
    monkeypatch.setattr(frames, "SPIN_NS", 0)
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(0.2)
        with pytest.raises(TimeoutError):
            recv_frame(right)  # nothing comes: the spin did not pay
        inbox = frames._INBOXES[right]
        assert inbox.sleeps == frames.SLEEPS_AFTER_A_VAIN_SPIN
        send_frame(left, {"op": "x"}, [])
        assert recv_frame(right) == ({"op": "x"}, [])
        assert inbox.sleeps == frames.SLEEPS_AFTER_A_VAIN_SPIN - 1
