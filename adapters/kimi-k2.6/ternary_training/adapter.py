"""kimi-k2.6's ternary_linear.py (MLX): TernaryLinear, whose get_ternary_weights() returns the
projected weights and the per-group scales."""
import mlx.core as mx
import numpy as np

import ternary_linear as _solution


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
    rows = W.reshape(-1, W.shape[-1])
    layer = _solution.TernaryLinear(rows.shape[1], rows.shape[0], group_size=int(group_size))
    layer.weight = _mx(rows)
    w_ternary, scales = layer.get_ternary_weights()
    scales = np.array(scales)[..., 0]                       # (rows, groups, 1) -> (rows, groups)
    # Its projected weights are codes * scale; the codes are that ratio, per group.
    codes = np.rint(np.array(w_ternary) / np.repeat(scales, int(group_size), axis=-1))
    return codes.astype(np.int8).reshape(W.shape), scales.reshape(W.shape[:-1] + (-1,))


def make_ternary_linear(W_latent, group_size=128):
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0], group_size=int(group_size))
    layer.weight = _mx(W)
    return _Layer(layer)
