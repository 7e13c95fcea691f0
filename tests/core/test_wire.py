import io
import math

import numpy as np
import pytest

from llmbench import wire


def roundtrip(value):
    blobs = []
    header = wire.encode(value, blobs)
    return wire.decode(header, blobs)


def test_plain_values_survive():
    value = {"a": [1, 2.5, None, True, "x"], 3: (np.float32(1.5), np.int64(7)), "b": b"\x00\x01",
             "nan": float("nan"), "inf": -math.inf, "big": 2**70}
    out = roundtrip(value)
    assert out["a"] == [1, 2.5, None, True, "x"]
    assert isinstance(out[3], tuple) and out[3][0].dtype == np.float32 and out[3][1] == 7
    assert out["b"] == b"\x00\x01" and math.isnan(out["nan"]) and out["inf"] == -math.inf
    assert out["big"] == 2**70


def test_arrays_keep_dtype_shape_and_nan():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    a[1, 1] = np.nan
    out = roundtrip([a, a[:, ::2]])
    assert out[0].dtype == np.float32 and out[0].shape == (3, 4) and np.isnan(out[0][1, 1])
    np.testing.assert_array_equal(out[1], a[:, ::2])


def test_lying_ndarray_subclass_arrives_as_plain_ndarray():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    liar = np.zeros(3).view(Liar)
    blobs = []
    header = wire.encode(liar, blobs, to_handle=lambda o: (1, "x"))
    out = wire.decode(header, blobs)
    assert type(out) is np.ndarray
    assert not np.array_equal(out, np.ones(3))


def test_objects_become_handles_on_the_worker_side_and_errors_on_ours():
    blobs = []
    header = wire.encode(object(), blobs, to_handle=lambda o: (5, "object"))
    assert header == {"$t": "handle", "id": 5, "type": "object"}
    with pytest.raises(wire.ProtocolError):
        wire.encode(object(), [])


def test_pickled_arrays_are_refused():
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(wire.ProtocolError):
        wire.decode({"$t": "nd", "i": 0}, [buf.getvalue()])


def test_unknown_tags_and_bad_indices_are_refused():
    with pytest.raises(wire.ProtocolError):
        wire.decode({"$t": "pickle", "v": "x"}, [])
    with pytest.raises(wire.ProtocolError):
        wire.decode({"$t": "nd", "i": 3}, [])


def test_framing_roundtrip():
    buf = io.BytesIO()
    wire.write_message(buf, {"op": "x"}, [b"abc", b""])
    buf.seek(0)
    assert wire.read_message(buf) == ({"op": "x"}, [b"abc", b""])
    with pytest.raises(EOFError):
        wire.read_message(io.BytesIO(b"\x00\x00"))
