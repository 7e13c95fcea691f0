"""kimi-k2.6's ternary_linear.py (MLX): TernaryLinear, whose get_ternary_weights() returns the
projected weights and the per-group scales."""
import numpy as np

import ternary_linear as _solution
from llmbench.adapter_kit.mlx_layer import numpy_layer, to_mx


def ternary_project(W, group_size=128):
    W = np.asarray(W, dtype=np.float64)
    rows = W.reshape(-1, W.shape[-1])
    layer = _solution.TernaryLinear(rows.shape[1], rows.shape[0], group_size=int(group_size))
    layer.weight = to_mx(rows)
    w_ternary, scales = layer.get_ternary_weights()
    scales = np.array(scales)[..., 0]                       # (rows, groups, 1) -> (rows, groups)
    # Its projected weights are codes * scale; the codes are that ratio, per group.
    codes = np.rint(np.array(w_ternary) / np.repeat(scales, int(group_size), axis=-1))
    return codes.astype(np.int8).reshape(W.shape), scales.reshape(W.shape[:-1] + (-1,))


def make_ternary_linear(W_latent, group_size=128):
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0], group_size=int(group_size))
    return numpy_layer(layer, W)
