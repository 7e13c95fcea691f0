"""Plain-data transport between the trusted process and a sandboxed worker.

A message is a JSON header plus binary blobs. Arrays travel as .npy bytes and are read
back with ``np.load(allow_pickle=False)``: nothing a worker sends is ever unpickled.
Values that are not plain data stay in the worker and travel as handles.

Frame: u32 header length, header JSON, u32 blob count, then per blob u64 length + bytes.
"""
from __future__ import annotations

import io
import json
import math
import struct

import numpy as np

MAX_HEADER = 64 * 1024 * 1024
MAX_BLOB = 4 * 1024**3  # one array: no larger than a worker's default address-space cap
MAX_DEPTH = 64
MAX_FRAME = 4 * 1024**3  # all blobs of one message together


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message."""


class Spec:
    """A trusted helper to be built inside the worker: ``Spec("ToyLM", seed=0)``."""

    def __init__(self, cls: str, **params):
        self.cls, self.params = cls, params

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"remote({self.cls!r}, {args})"


class HandleRef:
    """Trusted-side reference to an object that lives in the worker."""

    def __init__(self, hid: int, type_name: str):
        self.id, self.type_name = hid, type_name


# ----------------------------------------------------------------------------- encoding
def encode(value, blobs: list[bytes], to_handle=None, depth: int = 0):
    """Turn value into JSON-able data, appending binary parts to blobs.

    to_handle(obj) -> (id, type name) is given on the worker side: anything not plain
    becomes a handle. On the trusted side it is None and non-plain values are an error.
    """
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**53 else {"$t": "bigint", "v": str(value)}
    if t is float:
        return value if math.isfinite(value) else {"$t": "float", "v": repr(value)}
    if isinstance(value, HandleRef):
        return {"$t": "handle", "id": value.id, "type": value.type_name}
    if isinstance(value, Spec):
        return {"$t": "spec", "cls": value.cls, "params": encode(value.params, blobs, to_handle, depth + 1)}
    if isinstance(value, np.ndarray) and value.dtype != object:
        arr = np.asarray(value).view(np.ndarray) if type(value) is not np.ndarray else value
        blobs.append(_npy(arr))
        return {"$t": "nd", "i": len(blobs) - 1}
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        blobs.append(_npy(np.asarray(value)))
        return {"$t": "npscalar", "i": len(blobs) - 1}
    if t is bytes:
        blobs.append(bytes(value))
        return {"$t": "bytes", "i": len(blobs) - 1}
    if t is list:
        return [encode(v, blobs, to_handle, depth + 1) for v in value]
    if t is tuple:
        return {"$t": "tuple", "v": [encode(v, blobs, to_handle, depth + 1) for v in value]}
    if t is dict:
        return {"$t": "dict", "v": [[encode(k, blobs, to_handle, depth + 1), encode(v, blobs, to_handle, depth + 1)]
                                    for k, v in value.items()]}
    if to_handle is not None:
        # Subclasses of plain types (a float whose __eq__ lies) become their base value;
        # everything else stays in the worker behind a handle.
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return encode(int(value), blobs, to_handle, depth)
        if isinstance(value, float):
            return encode(float(value), blobs, to_handle, depth)
        if isinstance(value, str):
            return str.__str__(value)
        hid, name = to_handle(value)
        return {"$t": "handle", "id": hid, "type": name}
    raise ProtocolError(f"cannot send a {t.__name__} to the worker: pass plain data or remote(...) specs")


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def decode(data, blobs: list[bytes], on_handle=None, on_spec=None, depth: int = 0):
    """Inverse of encode. Strict: anything malformed (unknown tags, missing fields, pickled
    arrays, array headers that do not match their bytes) is a ProtocolError, nothing else."""
    if depth == 0:
        # Each blob may be referenced once: a small frame naming one 8 MB blob 250 times must
        # not decode into 2 GB here. Decoded bytes are thus bounded by the frame's size.
        blobs = _OnceBlobs(blobs)
        try:
            return _decode(data, blobs, on_handle, on_spec, 0)
        except ProtocolError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError, MemoryError) as exc:
            raise ProtocolError(f"malformed value ({type(exc).__name__}: {str(exc)[:200]})") from None
    return _decode(data, blobs, on_handle, on_spec, depth)


def _decode(data, blobs: list[bytes], on_handle=None, on_spec=None, depth: int = 0):
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [_decode(v, blobs, on_handle, on_spec, depth + 1) for v in data]
    if not isinstance(data, dict) or "$t" not in data:
        raise ProtocolError("malformed value")
    tag = data["$t"]
    if tag == "float":
        if data["v"] not in ("nan", "inf", "-inf"):
            raise ProtocolError("malformed float")
        return float(data["v"])
    if tag == "bigint":
        return int(data["v"])
    if tag in ("nd", "npscalar"):
        arr = _load_npy(_blob(blobs, data["i"]))
        return arr if tag == "nd" else arr[()]
    if tag == "bytes":
        return _blob(blobs, data["i"])
    if tag == "tuple":
        return tuple(_decode(v, blobs, on_handle, on_spec, depth + 1) for v in data["v"])
    if tag == "dict":
        out = {}
        for k, v in data["v"]:
            key = _decode(k, blobs, on_handle, on_spec, depth + 1)
            try:
                out[key] = _decode(v, blobs, on_handle, on_spec, depth + 1)
            except TypeError:
                raise ProtocolError("unhashable dict key") from None
        return out
    if tag == "handle":
        if on_handle is None:
            raise ProtocolError("unexpected handle")
        return on_handle(int(data["id"]), str(data.get("type", "")))
    if tag == "spec":
        if on_spec is None:
            raise ProtocolError("unexpected spec")
        return on_spec(str(data["cls"]), _decode(data["params"], blobs, on_handle, on_spec, depth + 1))
    raise ProtocolError(f"unknown tag {tag!r}")


def _load_npy(blob: bytes) -> np.ndarray:
    """np.load(allow_pickle=False), after checking that the header's shape matches the bytes
    that follow (a lying header must not make us allocate terabytes)."""
    from numpy.lib import format as npy

    buf = io.BytesIO(blob)
    try:
        version = npy.read_magic(buf)
        reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _fortran, dtype = reader(buf)
        if dtype.hasobject:
            raise ProtocolError("object arrays are refused")
        count = 1
        for n in shape:
            count *= int(n)
        if count * dtype.itemsize != len(blob) - buf.tell():
            raise ProtocolError("array header does not match its data")
        buf.seek(0)
        return np.load(buf, allow_pickle=False)
    except ProtocolError:
        raise
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise ProtocolError(f"bad array: {exc}") from None


class _OnceBlobs(list):
    """The blobs of one message, each to be used at most once while decoding it."""

    def __init__(self, blobs):
        super().__init__(blobs)
        self.used: set[int] = set()


def _blob(blobs: list[bytes], i) -> bytes:
    if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(blobs):
        raise ProtocolError("bad blob index")
    if isinstance(blobs, _OnceBlobs):
        if i in blobs.used:
            raise ProtocolError(f"blob {i} referenced more than once")
        blobs.used.add(i)
    return blobs[i]


# ----------------------------------------------------------------------------- framing
def write_message(stream, header: dict, blobs: list[bytes]) -> None:
    """Write one framed message: a JSON header, then length-prefixed binary blobs."""
    head = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack("!I", len(head)), head, struct.pack("!I", len(blobs))]
    for b in blobs:
        parts += [struct.pack("!Q", len(b)), b]
    stream.write(b"".join(parts))
    stream.flush()


def _read_exact(stream, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(stream) -> tuple[dict, list[bytes]]:
    """Read one framed message, checking every size before reading it.

    Returns:
        The JSON header (an object) and the blobs.

    Raises:
        ProtocolError: A malformed or oversized message.
        EOFError: The stream ended.
    """
    (n,) = struct.unpack("!I", _read_exact(stream, 4))
    if n > MAX_HEADER:
        raise ProtocolError("header too large")
    try:
        header = json.loads(_read_exact(stream, n))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    (count,) = struct.unpack("!I", _read_exact(stream, 4))
    if count > 100_000:
        raise ProtocolError("too many blobs")
    blobs = []
    total = 0
    for _ in range(count):
        (size,) = struct.unpack("!Q", _read_exact(stream, 8))
        total += size
        if size > MAX_BLOB:
            raise ProtocolError("blob too large")
        if total > MAX_FRAME:
            raise ProtocolError("message too large")
        blobs.append(_read_exact(stream, size))
    return header, blobs
