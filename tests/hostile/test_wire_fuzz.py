"""The trusted side reads whatever a hostile worker writes: it may only ever fail with
ProtocolError (malformed) or EOFError (closed), never with another exception or by
allocating what the message merely claims."""
from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbench import wire

ALLOWED = (wire.ProtocolError, EOFError)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(header: bytes, blobs: list[bytes]) -> bytes:
    parts = [struct.pack("!I", len(header)), header, struct.pack("!I", len(blobs))]
    for b in blobs:
        parts += [struct.pack("!Q", len(b)), b]
    return b"".join(parts)


def read_and_decode(data: bytes):
    """What the trusted client does with a reply: read the frame, decode its value."""
    header, blobs = wire.read_message(io.BytesIO(data))
    return wire.decode(header.get("value"), blobs, lambda hid, t: (hid, t))


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
tags = st.sampled_from(["nd", "npscalar", "bytes", "tuple", "dict", "float", "bigint", "handle", "spec", "x"])
tagged = st.fixed_dictionaries({"$t": tags}, optional={
    "i": st.integers(-2, 3) | st.text(max_size=2), "v": json_scalars | st.lists(json_scalars, max_size=3),
    "id": json_scalars, "type": json_scalars, "cls": json_scalars, "params": json_scalars})
values = st.recursive(json_scalars | tagged, lambda inner: st.lists(inner, max_size=4)
                      | st.fixed_dictionaries({"$t": tags, "v": st.lists(st.lists(inner, max_size=3), max_size=3)}),
                      max_leaves=12)
blobs = st.lists(st.binary(max_size=64) | st.sampled_from([npy(np.arange(3.0)), npy(np.float32(2.5))]),
                 max_size=3)


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(data):
    try:
        read_and_decode(data)
    except ALLOWED:
        pass


@FUZZ
@given(st.binary(max_size=200), blobs)
def test_well_framed_garbage_headers(header, blob_list):
    try:
        read_and_decode(frame(header, blob_list))
    except ALLOWED:
        pass


@FUZZ
@given(values, blobs)
def test_well_framed_random_values(value, blob_list):
    try:
        read_and_decode(frame(json.dumps({"ok": True, "value": value}).encode(), blob_list))
    except ALLOWED:
        pass


MALFORMED_OK = [{"$t": "spec"}, {"$t": "bytes", "i": True}, {"$t": "nd", "i": 1}, {"$t": "pickle"}, {"a": 1}]
MALFORMED_ESCAPING = [{"$t": "float"}, {"$t": "bigint", "v": "x"}, {"$t": "bigint", "v": "1" * 5000},
                      {"$t": "tuple", "v": 5}, {"$t": "dict", "v": [[1]]}, {"$t": "handle", "id": "x"}, {"$t": "nd"}]


@pytest.mark.parametrize("value", MALFORMED_OK)
def test_malformed_values_are_protocol_errors(value):
    with pytest.raises(wire.ProtocolError):
        wire.decode(value, [npy(np.arange(3.0))], lambda hid, t: (hid, t))


@pytest.mark.parametrize("value", MALFORMED_ESCAPING)
def test_malformed_tagged_values_are_protocol_errors(value):
    with pytest.raises(wire.ProtocolError):
        wire.decode(value, [npy(np.arange(3.0))], lambda hid, t: (hid, t))


def test_deeply_nested_header_is_a_protocol_error():
    header = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ALLOWED):
        wire.read_message(io.BytesIO(frame(header, [])))


def test_array_header_claiming_a_huge_shape_is_refused_without_allocating():
    blob = npy(np.arange(3.0)).replace(b"(3,)", b"(4000000000000,)")  # 32 TB claimed, 24 bytes sent
    with pytest.raises(wire.ProtocolError):
        wire.decode({"$t": "nd", "i": 0}, [blob])


class Endless:
    """A reply stream that keeps sending zeros: counts what the reader takes."""

    def __init__(self, prefix: bytes, cap: int):
        self.prefix, self.taken, self.cap = prefix, 0, cap

    def read(self, n: int) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            return out
        if self.taken >= self.cap:
            raise AssertionError(f"the reader buffered {self.taken >> 20} MB of a blob nobody could produce")
        n = min(n, 1 << 20)
        self.taken += n
        return b"\0" * n


def test_blob_claims_beyond_any_worker_memory_cap_are_refused_up_front():
    claim = 15 * 1024**3  # more than any worker with the default 4096 MB cap can hold
    prefix = frame(b'{"ok": true}', [])[:-4] + struct.pack("!I", 1) + struct.pack("!Q", claim)
    with pytest.raises(wire.ProtocolError):
        wire.read_message(Endless(prefix, cap=64 << 20))
