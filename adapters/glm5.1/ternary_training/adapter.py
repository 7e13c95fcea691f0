"""glm5.1's ternary_model.py (MLX): project_ternary returns (codes, scales); TernaryLinear."""
import mlx.core as mx
import numpy as np

import ternary_model as _solution


def _mx(a):
    # float64 on the CPU: the suite compares with float64 NumPy (the solution may still cast)
    return mx.array(np.asarray(a, dtype=np.float64), dtype=mx.float64)


class _Layer:
    """forward/backward in NumPy around the solution's MLX layer; backward is MLX's own
    vector-Jacobian product through the layer (its straight-through estimator included)."""

    def __init__(self, layer):
        self._layer, self._x = layer, None

    def forward(self, x):
        self._x = _mx(x)
        return np.array(self._layer(self._x))

    def backward(self, dy):
        layer, latent = self._layer, self._layer.weight

        def f(x, w):
            layer.weight = w
            return layer(x)

        try:
            _, (dx, dw) = mx.vjp(f, [self._x, latent], [_mx(dy)])
        finally:
            layer.weight = latent
        return np.array(dx), np.array(dw)


def ternary_project(W, group_size=128):
    W = np.asarray(W, dtype=np.float64)
    codes, scales = _solution.project_ternary(_mx(W), int(group_size))
    codes = np.array(codes)
    # Its scales come back per flattened row; the canonical layout keeps W's leading axes.
    scales = np.array(scales).reshape(W.shape[:-1] + (-1,))
    return codes.astype(np.int8), scales


def make_ternary_linear(W_latent, group_size=128):
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0], group_size=int(group_size))
    layer.weight = _mx(W)
    return _Layer(layer)
