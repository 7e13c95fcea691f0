"""KV-cache for batched autoregressive attention (NumPy reference).

Layout: one preallocated (B, H, max_len, D) buffer each for keys and values. Item b's
tokens occupy positions 0 .. lengths[b]-1 of its own row; every item grows at its own
position, so a ragged batch never needs re-padding. Slots at or beyond an item's length
hold stale data (prompt padding) and are masked out, never read as tokens.
"""
from __future__ import annotations

import numpy as np


def _softmax_rows(scores):
    """Softmax over the last axis; -inf entries get weight 0 (each row has a finite entry)."""
    m = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - m)
    return e / e.sum(axis=-1, keepdims=True)


class KVCache:
    def __init__(self, batch_size, num_heads, head_dim, max_len):
        self.batch_size, self.num_heads, self.head_dim, self.max_len = batch_size, num_heads, head_dim, max_len
        shape = (batch_size, num_heads, max_len, head_dim)
        self._k = np.zeros(shape)
        self._v = np.zeros(shape)
        self._len = np.zeros(batch_size, dtype=np.int64)
        self._scale = 1.0 / np.sqrt(head_dim)

    def lengths(self):
        return self._len.copy()

    def memory_bytes(self):
        return int(self._k.nbytes + self._v.nbytes)

    def prefill(self, q, k, v, lengths):
        """Store a right-padded prompt and return its causal self-attention (B, H, T, D)."""
        q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
        lengths = np.asarray(lengths, dtype=np.int64)
        t = k.shape[2]
        if np.any(self._len):
            raise RuntimeError("prefill must be the first call on a cache")
        if t > self.max_len or np.any(lengths < 1) or np.any(lengths > t):
            raise ValueError(f"need 1 <= lengths <= T={t} <= max_len={self.max_len}")
        self._k[:, :, :t] = k
        self._v[:, :, :t] = v
        self._len = lengths.copy()
        pos = np.arange(t)
        future = pos[None, :] > pos[:, None]               # key after query
        padded = pos[None, :] >= lengths[:, None]          # key beyond the item's prompt
        hidden = future[None, None] | padded[:, None, None, :]
        scores = (q @ k.swapaxes(-1, -2)) * self._scale
        # Query rows beyond a prompt still see key 0, so no row is fully hidden.
        p = _softmax_rows(np.where(hidden, -np.inf, scores))
        return p @ v

    def decode(self, q, k, v):
        """Append one token per item at its own position, attend over its cache: (B, H, 1, D)."""
        q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
        pos = self._len
        if np.any(pos >= self.max_len):
            raise ValueError(f"cache full (max_len={self.max_len})")
        rows = np.arange(self.batch_size)
        self._k[rows, :, pos] = k[:, :, 0]
        self._v[rows, :, pos] = v[:, :, 0]
        self._len = pos + 1
        s = int(self._len.max())
        scores = (q @ self._k[:, :, :s].swapaxes(-1, -2)) * self._scale   # (B, H, 1, s)
        valid = np.arange(s)[None, :] < self._len[:, None]                  # (B, s)
        p = _softmax_rows(np.where(valid[:, None, None, :], scores, -np.inf))
        return p @ self._v[:, :, :s]


def make_kv_cache(batch_size, num_heads, head_dim, max_len):
    return KVCache(int(batch_size), int(num_heads), int(head_dim), int(max_len))
