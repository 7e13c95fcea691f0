"""opus47_1m's ternary_train.py (MLX): TernaryLinear. The module imports mlx_lm at the top
(for loading Qwen3-0.6B, which nothing here calls)."""
import numpy as np

import ternary_train as _solution
from llmbench.adapter_kit.mlx_layer import numpy_layer


def make_ternary_linear(W_latent, group_size=128):
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0], group_size=int(group_size))
    return numpy_layer(layer, W)
