"""glm5.1's ternary_model.py (MLX): project_ternary returns (codes, scales); TernaryLinear."""
import numpy as np

import ternary_model as _solution
from llmbench.adapter_kit.mlx_layer import numpy_layer, to_mx


def ternary_project(W, group_size=128):
    W = np.asarray(W, dtype=np.float64)
    codes, scales = _solution.project_ternary(to_mx(W), int(group_size))
    codes = np.array(codes)
    # Its scales come back per flattened row; the canonical layout keeps W's leading axes.
    scales = np.array(scales).reshape(W.shape[:-1] + (-1,))
    return codes.astype(np.int8), scales


def make_ternary_linear(W_latent, group_size=128):
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0], group_size=int(group_size))
    return numpy_layer(layer, W)
