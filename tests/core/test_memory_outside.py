"""Issue 11: memory for a verdict is measured from outside the solution's process.

One line that stops tracemalloc used to turn an N x N allocation into a "peak" of a few KB.
"""
from __future__ import annotations

import numpy as np
import pytest

from llmbench.conformance.client import SolutionProxy, WorkerConfig
from tests.conftest import write

HIDER = """
import tracemalloc
import numpy as np

def nxn(q):
    if tracemalloc.is_tracing():
        tracemalloc.stop()  # hide from the in-process tracer
    s = np.ones((q.shape[0], q.shape[0]))  # 4096 x 4096 float64: 134 MB
    return q + s[:, :1]

def small(q):
    return q * 2.0
"""


@pytest.fixture(params=["auto", "fallback"])
def proxy(request, tmp_path):
    write(tmp_path / "sol" / "impl.py", HIDER)
    p = SolutionProxy(WorkerConfig(solution=tmp_path / "sol", call_timeout_s=60, memory_mb=2048,
                                   isolation=request.param))
    yield p
    p.close()


def test_stopping_the_tracer_does_not_hide_an_nxn_array(proxy):
    q = np.zeros((4096, 1))
    r = proxy.fresh().call("nxn", q, measure_memory=True)
    assert r.value.shape == (4096, 1)
    assert r.peak_bytes > 100e6, f"outside peak {r.peak_bytes / 1e6:.1f} MB misses the 134 MB array"
    assert r.self_reported_peak_bytes is not None and r.self_reported_peak_bytes < 1e6  # what the tracer saw
    small = proxy.fresh().call("small", q, measure_memory=True)
    assert small.peak_bytes < 20e6 and small.output_bytes == q.nbytes
