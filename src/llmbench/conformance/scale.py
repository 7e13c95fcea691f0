"""Scale sanity: what each conformance test compared, seen from the trusted process.

A comparison proves little when the expected values sit below its tolerance (all zeros
pass) or when the expected output does not depend on the inputs the solution was given
(a constant answer passes). Tests report each comparison with `note_comparison` (the
suites' error helpers and `numpy.testing.assert_allclose` do it for them); the proxy
notes a digest of every call's arguments. The plugin folds both into one summary per test
(`TestRecord.scale`), and `llmbench validate` checks the reference run's summaries.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

# A test's reference output must be at least this many times its absolute tolerance.
MIN_SCALE_RATIO = 100.0

_CURRENT: dict | None = None  # the running test's notes (set by the plugin around each test)


def begin_test() -> None:
    """Start collecting the notes of a new test."""
    global _CURRENT
    _CURRENT = {"comparisons": [], "inputs": set(), "probed": set(), "nondeterministic": 0}


def end_test() -> dict:
    """Summary of the test that just ran: {} when it compared nothing through us."""
    global _CURRENT
    notes, _CURRENT = _CURRENT, None
    if not notes:
        return {}
    probes = {"determinism_probes": float(len(notes["probed"])),
              "nondeterministic": float(notes["nondeterministic"])} if notes["probed"] else {}
    if not notes["comparisons"]:
        return probes
    comps = notes["comparisons"]
    ratios = [c["ratio"] for c in comps if c["ratio"] is not None]
    out = {
        "comparisons": float(len(comps)),
        "distinct_expected": float(len({c["digest"] for c in comps})),
        "distinct_inputs": float(len(notes["inputs"])),
    }
    if ratios and math.isfinite(max(ratios)):  # the test's sharpest comparison: one clearly-scaled check is enough
        out["max_scale_ratio"] = max(ratios)  # (infinite: exact or unstated relative bound; left out of the record)
    return {**out, **probes}


def first_call(entry: str) -> bool:
    """True the first time `entry` is called in the running test (then it is probed for determinism)."""
    if _CURRENT is None or entry in _CURRENT["probed"]:
        return False
    _CURRENT["probed"].add(entry)
    return True


def note_determinism(entry: str, same: bool) -> None:
    """Note the outcome of a determinism probe: a second call on the same inputs gave the same output, or not."""
    if _CURRENT is not None and not same:
        _CURRENT["nondeterministic"] += 1


def identical(a, b, depth: int = 0) -> bool:
    """Bitwise equality of plain data (NaN equals NaN; handles compare by identity)."""
    if depth > 50:
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(identical(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(identical(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a).__name__ == "RemoteHandle" or type(b).__name__ == "RemoteHandle":
        return True  # objects stay in the worker: not comparable here
    return type(a) is type(b) and a == b


def _digest(value) -> str:
    h = hashlib.sha256()
    try:
        arr = np.ascontiguousarray(np.asarray(value, dtype=float))
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    except (TypeError, ValueError):
        h.update(repr(value).encode("utf-8", "replace"))
    return h.hexdigest()[:16]


def note_inputs(blobs: list[bytes], header_args) -> None:
    """Called by the proxy for every call it sends: the arguments' digest."""
    if _CURRENT is None:
        return
    h = hashlib.sha256(repr(header_args).encode("utf-8", "replace"))
    for b in blobs:
        h.update(b)
    _CURRENT["inputs"].add(h.hexdigest()[:16])


def note_comparison(expected, *, atol: float = 0.0, rtol: float = 0.0, floor: float = 0.0) -> None:
    """Record one comparison of a solution's output against `expected`.

    The comparison is taken to accept an answer within atol + rtol * max(|expected|, floor) of
    each expected value: numpy's allclose (floor 0), or a relative error whose denominator is
    max(floor, max |expected|). Its ratio is max |expected| over that tolerance at the largest
    expected value, so an all-zeros answer fails the comparison exactly when the ratio exceeds 1,
    whatever mix of absolute and relative tolerance it uses; a ratio of 100 leaves a margin.
    A relative error compared with an unstated bound (no atol, no rtol) gets an infinite ratio
    unless everything expected is 0 (zeros then pass any relative bound below 1 or fail it
    with a division by zero: either way the comparison proves nothing).
    """
    if _CURRENT is None:
        return
    try:
        scale = float(np.max(np.abs(np.asarray(expected, dtype=float)))) if np.size(expected) else 0.0
    except (TypeError, ValueError):
        scale = math.nan
    ratio = None
    if math.isfinite(scale):
        effective = max(float(atol), 0.0) + max(float(rtol), 0.0) * max(scale, float(floor))
        if scale == 0.0:
            ratio = 0.0  # an all-zero expected output: a zeros answer passes
        else:
            ratio = scale / effective if effective > 0 else math.inf
    _CURRENT["comparisons"].append({"ratio": ratio, "digest": _digest(expected)})


def nondeterminism(name: str, summary: dict) -> str:
    """A finding (never a failure unless the prompt requires determinism): '' when none."""
    n = int(summary.get("nondeterministic", 0))
    return f"{name}: {n} entry point(s) gave different outputs for the same inputs" if n else ""


def problems(name: str, summary: dict) -> list[str]:
    """What is wrong with one reference test's comparisons (empty: fine or not judged)."""
    out = []
    if not summary:
        return out
    ratio = summary.get("max_scale_ratio", math.inf)
    if ratio < MIN_SCALE_RATIO:
        out.append(f"{name}: max |expected| is only {ratio:.3g} x its tolerance (needs {MIN_SCALE_RATIO:g} x)")
    if summary.get("comparisons", 0) > 1 and summary.get("distinct_inputs", 0) > 1 \
            and summary.get("distinct_expected", 0) == 1:
        out.append(f"{name}: the expected output is the same for all {int(summary['distinct_inputs'])} inputs")
    return out
