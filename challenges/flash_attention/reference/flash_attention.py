"""Tiled attention forward with an online softmax (llmbench reference solution).

Every (batch, head) pair is processed at once for each (query tile, key tile) pair,
so the Python loop runs over tile pairs only and NumPy does the rest. The largest
temporary is one (B, H, tile, tile) score block: nothing of size N x N is built.
"""
from __future__ import annotations

import numpy as np


def _check_inputs(Q, K, V, tile_size, key_padding_mask):
    Q, K, V = (np.asarray(a) for a in (Q, K, V))
    if Q.ndim != 4 or K.ndim != 4 or V.ndim != 4:
        raise ValueError("Q, K, V must have shape (B, H, N, D)")
    if K.shape != Q.shape or V.shape[:3] != Q.shape[:3]:
        raise ValueError(f"shape mismatch: Q {Q.shape}, K {K.shape}, V {V.shape}")
    if int(tile_size) != tile_size or tile_size < 1:
        raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
    if key_padding_mask is not None:
        key_padding_mask = np.asarray(key_padding_mask, dtype=bool)
        if key_padding_mask.shape != Q.shape[:1] + Q.shape[2:3]:
            raise ValueError(f"key_padding_mask must have shape (B, N), got {key_padding_mask.shape}")
    return Q, K, V, int(tile_size), key_padding_mask


def flash_attention_fwd(Q, K, V, tile_size, causal=True, key_padding_mask=None):
    """softmax(Q K^T / sqrt(D) + mask) V, computed tile by tile.

    Q, K, V: (B, H, N, D). key_padding_mask: optional (B, N) bool, True = a real key.
    Query i sees key j when (not causal or j <= i) and the key is real. A row that
    sees no key at all gets zeros. Computes in the inputs' floating dtype.
    """
    Q, K, V, tile, pad = _check_inputs(Q, K, V, tile_size, key_padding_mask)
    dtype = np.result_type(Q.dtype, K.dtype, V.dtype, np.float32)
    B, H, N, D = Q.shape
    scale = dtype.type(1.0 / np.sqrt(D))
    out = np.zeros((B, H, N, V.shape[-1]), dtype=dtype)
    n_tiles = -(-N // tile)  # ceil: the last tile may be shorter

    for qi in range(n_tiles):
        q0, q1 = qi * tile, min((qi + 1) * tile, N)
        q_t = Q[:, :, q0:q1].astype(dtype, copy=False) * scale
        m = np.full((B, H, q1 - q0), -np.inf, dtype=dtype)  # running row max
        l = np.zeros((B, H, q1 - q0), dtype=dtype)  # running sum of exp(s - m)
        acc = np.zeros((B, H, q1 - q0, V.shape[-1]), dtype=dtype)  # unnormalised output
        # Causal: key tiles wholly above the diagonal (k0 > q1 - 1) are never visited.
        last_kv = qi + 1 if causal else n_tiles
        for ki in range(last_kv):
            k0, k1 = ki * tile, min((ki + 1) * tile, N)
            s = q_t @ K[:, :, k0:k1].astype(dtype, copy=False).swapaxes(-1, -2)
            if causal and k1 - 1 > q0:  # the tile crosses the diagonal
                rows = np.arange(q0, q1)[:, None]
                cols = np.arange(k0, k1)[None, :]
                s = np.where(cols > rows, -np.inf, s)
            if pad is not None:
                s = np.where(pad[:, None, None, k0:k1], s, -np.inf)
            m_new = np.maximum(m, s.max(axis=-1))
            # A row that has seen no real key yet keeps m = -inf; shift it by 0 instead,
            # so that exp(-inf - (-inf)) = NaN never happens (its p and l stay 0).
            m_shift = np.where(np.isneginf(m_new), 0.0, m_new).astype(dtype, copy=False)
            # Rescales the old state from the old max to the new one: exp(m - m_new) <= 1.
            # A row with no state yet (m = -inf) gets 0.
            alpha = np.where(np.isneginf(m), 0.0, np.exp(m - m_shift)).astype(dtype, copy=False)
            p = np.exp(np.subtract(s, m_shift[..., None], out=s), out=s)  # in place: s is not reused
            l = l * alpha + p.sum(axis=-1)
            acc *= alpha[..., None]
            acc += p @ V[:, :, k0:k1].astype(dtype, copy=False)
            m = m_new
        # l == 0 only for rows that see no key at all (possible with padding).
        out[:, :, q0:q1] = acc / np.where(l > 0, l, 1.0)[..., None]
    return out
