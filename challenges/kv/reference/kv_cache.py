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


class CachedLM:
    """A one-layer attention LM that reads and writes its KVCache: the protocol's reference.

    Token and position embeddings feed one multi-head attention layer (through the cache)
    with a residual connection and a vocabulary head. Prefill returns every position's
    logits (B, T, V); decode returns the new token's (B, V). Weights depend only on `seed`,
    so two models built alike are the same model.
    """

    vocab_size = 32

    def __init__(self, batch_size, max_len, num_heads=2, head_dim=8, seed=0):
        rng = np.random.default_rng(seed)
        d = num_heads * head_dim
        self.num_heads, self.head_dim = num_heads, head_dim
        self.embed = rng.standard_normal((self.vocab_size, d))
        self.pos = 0.5 * rng.standard_normal((max_len, d))
        self.wq, self.wk, self.wv = (rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(3))
        self.head = rng.standard_normal((d, self.vocab_size)) / np.sqrt(d)
        self.cache = make_kv_cache(batch_size, num_heads, head_dim, max_len)

    def _heads(self, x):
        """(B, T, d) -> (B, H, T, D)"""
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _layer(self, x, attend):
        q, k, v = (self._heads(x @ w) for w in (self.wq, self.wk, self.wv))
        out = attend(q, k, v)                                   # (B, H, T, D)
        b, _, t, _ = out.shape
        return (x + out.transpose(0, 2, 1, 3).reshape(b, t, -1)) @ self.head

    def prefill(self, token_ids, lengths):
        ids = np.asarray(token_ids, dtype=np.int64)
        x = self.embed[ids] + self.pos[: ids.shape[1]]
        return self._layer(x, lambda q, k, v: self.cache.prefill(q, k, v, lengths))

    def decode(self, token_ids):
        ids = np.asarray(token_ids, dtype=np.int64)
        x = (self.embed[ids] + self.pos[self.cache.lengths()])[:, None]   # each item at its own position
        return self._layer(x, self.cache.decode)[:, 0]

    def cache_lengths(self):
        return self.cache.lengths()


def make_kv_model(batch_size, max_len):
    return CachedLM(int(batch_size), int(max_len))
