"""qwen36's train_ternary.py (MLX): TernaryLinear(input_dims, output_dims, bias, group_size).
The module imports mlx_lm at the top (for loading Qwen3-0.6B, which nothing here calls)."""
import mlx.core as mx
import numpy as np

import train_ternary as _solution


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


def make_ternary_linear(W_latent, group_size=128):
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0], bias=False, group_size=int(group_size))
    layer.weight = _mx(W)
    return _Layer(layer)
