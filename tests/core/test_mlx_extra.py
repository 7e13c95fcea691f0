"""The optional mlx extra: MLX on the CPU, in this process and inside the sandboxed worker."""
import numpy as np
import pytest

from llmbench.conformance.client import SolutionProxy, WorkerConfig
from tests.conftest import write

mx = pytest.importorskip("mlx.core", reason="the mlx extra is not installed (pip install -e '.[mlx]')")

STE = """
import mlx.core as mx
import numpy as np

def ste_grad(w):
    w = mx.array(np.asarray(w, dtype=np.float64), dtype=mx.float64)

    def loss(w):
        s = mx.mean(mx.abs(w))
        q = mx.clip(mx.round(w / s), -1, 1) * s
        return mx.sum((w + mx.stop_gradient(q - w)) * 3.0)

    return np.array(mx.grad(loss)(w))
"""


def test_ternary_projection_gradient_in_process():
    w = mx.array(np.array([[0.1, -2.0, 0.7, 0.0]]), dtype=mx.float64)
    s = mx.mean(mx.abs(w))
    codes = np.array(mx.clip(mx.round(w / s), -1, 1))
    assert codes.tolist() == [[0.0, -1.0, 1.0, 0.0]]
    grad = np.array(mx.grad(lambda v: mx.sum((v + mx.stop_gradient(mx.round(v) - v)) ** 2))(w))
    assert np.allclose(grad, 2 * np.round(np.array(w)))  # straight-through: d/dv of round(v)^2 at v


@pytest.mark.parametrize("isolation", ["auto", "fallback"])
def test_worker_imports_mlx_from_the_venv(tmp_path, isolation):
    write(tmp_path / "sol" / "impl.py", STE)
    proxy = SolutionProxy(WorkerConfig(solution=tmp_path / "sol", call_timeout_s=60, memory_mb=2048,
                                       isolation=isolation))
    try:
        grad = np.asarray(proxy.ste_grad(np.arange(6.0).reshape(2, 3) - 2.5))
    finally:
        proxy.close()
    assert grad.shape == (2, 3) and np.all(grad == 3.0)
