"""Ternary weight projection and a ternary linear layer with a straight-through backward.

Groups are runs of `group_size` consecutive elements along the last axis of a weight
stored as (out_features, in_features) (an embedding as (vocab, d_model)). When the last
axis is not a multiple of `group_size`, each row ends with a shorter remainder group whose
scale is the mean |W| over its own elements (never over zero padding).
"""
from __future__ import annotations

import numpy as np


def _check_group_size(group_size) -> int:
    if isinstance(group_size, bool) or int(group_size) != group_size or group_size < 1:
        raise ValueError(f"group_size must be a positive integer, got {group_size!r}")
    return int(group_size)


def _pad_last(W: np.ndarray, group_size: int) -> tuple[np.ndarray, int]:
    n = W.shape[-1]
    n_groups = -(-n // group_size)
    pad = n_groups * group_size - n
    if pad:
        W = np.concatenate([W, np.zeros(W.shape[:-1] + (pad,), W.dtype)], axis=-1)
    return W.reshape(W.shape[:-1] + (n_groups, group_size)), n_groups


def group_counts(n: int, group_size: int) -> np.ndarray:
    """Number of real elements in each group of a row of length n."""
    n_groups = -(-n // group_size)
    counts = np.full(n_groups, group_size, dtype=np.int64)
    counts[-1] = n - (n_groups - 1) * group_size
    return counts


def ternary_project(W, group_size: int = 128):
    """Return (codes, scales): codes int8 in {-1, 0, 1} shaped like W, and per-group
    scales s = mean(|W_group|) shaped W.shape[:-1] + (ceil(n / group_size),)."""
    group_size = _check_group_size(group_size)
    W = np.asarray(W)
    if W.ndim == 0 or W.shape[-1] == 0:
        raise ValueError(f"cannot group a weight of shape {W.shape}")
    if not np.issubdtype(W.dtype, np.floating):
        W = W.astype(np.float64)
    n = W.shape[-1]
    grouped, _ = _pad_last(W, group_size)
    # Padding zeros add nothing to the sum; divide by the real element count.
    scales = np.abs(grouped).sum(axis=-1) / group_counts(n, group_size).astype(W.dtype)
    safe = np.where(scales > 0, scales, 1).astype(W.dtype)
    codes = np.clip(np.rint(grouped / safe[..., None]), -1, 1)
    codes = codes.reshape(W.shape[:-1] + (-1,))[..., :n].astype(np.int8)
    return codes, scales


def dequantize(codes: np.ndarray, scales: np.ndarray, group_size: int = 128) -> np.ndarray:
    """codes * scale of each element's group (the effective weight)."""
    n = codes.shape[-1]
    per_elem = np.repeat(scales, group_size, axis=-1)[..., :n]
    return codes.astype(scales.dtype) * per_elem


def project_weight(W: np.ndarray, group_size: int = 128) -> np.ndarray:
    codes, scales = ternary_project(W, group_size)
    return dequantize(codes, scales, group_size)


class TernaryLinear:
    """y = x @ W_eff.T with W_eff = dequantize(ternary_project(W_latent)).

    backward uses the straight-through estimator: the gradient w.r.t. the effective
    weight is handed to the latent weight unchanged, and the scale is a constant (no
    gradient through mean |W|). `ternary=False` gives a dense layer (for gradient checks).
    """

    def __init__(self, W_latent, group_size: int = 128, ternary: bool = True):
        self.weight = np.array(W_latent, copy=True)
        if self.weight.ndim != 2:
            raise ValueError(f"a linear weight must be 2-D (out, in), got {self.weight.shape}")
        self.group_size = _check_group_size(group_size)
        self.ternary = ternary
        self._x = None
        self._w_eff = None

    def effective_weight(self) -> np.ndarray:
        if not self.ternary:
            return self.weight
        return project_weight(self.weight, self.group_size)

    def forward(self, x):
        x = np.asarray(x)
        w = self.effective_weight()
        self._x, self._w_eff = x, w
        return x @ w.T

    def backward(self, dy):
        if self._x is None:
            raise RuntimeError("backward called before forward")
        dy = np.asarray(dy)
        x, w = self._x, self._w_eff
        dx = dy @ w
        # Straight-through: d loss / d W_latent := d loss / d W_eff.
        dW = dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        return dx, dW


def make_ternary_linear(W_latent, group_size: int = 128):
    return TernaryLinear(W_latent, group_size)
