"""glm5's ternary_linear.py (MLX): TernaryLinear, whose group size is the module's GROUP_SIZE."""
import numpy as np

import ternary_linear as _solution
from llmbench.adapter_kit.mlx_layer import numpy_layer


def make_ternary_linear(W_latent, group_size=128):
    _solution.GROUP_SIZE = int(group_size)   # the module's constant is its only way to set it
    W = np.asarray(W_latent)
    layer = _solution.TernaryLinear(W.shape[1], W.shape[0])
    return numpy_layer(layer, W)
