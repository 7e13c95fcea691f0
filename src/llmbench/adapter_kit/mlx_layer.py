"""An MLX layer seen through NumPy: the canonical forward/backward object of ternary_training."""
from __future__ import annotations

import mlx.core as mx
import numpy as np


def to_mx(a) -> "mx.array":
    """A float64 MLX array on the CPU: the suite compares with float64 NumPy (the solution
    may still cast to its own precision)."""
    return mx.array(np.asarray(a, dtype=np.float64), dtype=mx.float64)


class NumpyLayer:
    """forward(x) and backward(dy) in NumPy around a solution's MLX layer.

    backward is MLX's own vector-Jacobian product through the layer, straight-through
    estimator included; it returns (dx, dW) for the layer's latent weight.
    """

    def __init__(self, layer):
        self._layer, self._x = layer, None

    def forward(self, x):
        """The layer's output for x (kept for the following backward)."""
        self._x = to_mx(x)
        return np.array(self._layer(self._x))

    def backward(self, dy):
        """(dx, dW) for the upstream gradient dy at the last forward's input."""
        layer, latent = self._layer, self._layer.weight

        def f(x, w):
            layer.weight = w
            return layer(x)

        try:
            _, (dx, dw) = mx.vjp(f, [self._x, latent], [to_mx(dy)])
        finally:
            layer.weight = latent
        return np.array(dx), np.array(dw)


def numpy_layer(layer, W_latent) -> NumpyLayer:
    """`layer` (a solution's MLX layer) with W_latent as its weight, seen through NumPy."""
    layer.weight = to_mx(np.asarray(W_latent))
    return NumpyLayer(layer)
