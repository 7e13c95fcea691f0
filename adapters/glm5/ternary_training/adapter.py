"""glm5's ternary_linear.py (MLX): TernaryLinear, whose group size is the module's GROUP_SIZE."""
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


def make_ternary_linear(W_latent, group_size=128):
    _solution.GROUP_SIZE = int(group_size)   # the module's constant is its only way to set it
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0])
    layer.weight = _mx(W)
    return _Layer(layer)
