"""Trusted attention maths and a cache driver for the KV-cache conformance tests.

Everything here runs in the test process; the solution is reached only through the
`solution` proxy handed to `drive`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def causal_attention(q, k, v):
    """Full (non-cached) causal softmax attention of one item: (H, n, D) arrays, float64."""
    n, d = q.shape[-2], q.shape[-1]
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(d)
    scores = np.where(np.triu(np.ones((n, n), bool), k=1), -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    return (p / p.sum(axis=-1, keepdims=True)) @ v


@dataclass
class Item:
    """One sequence: its q, k, v (H, prompt + steps, D); the first `prompt` tokens are prefilled."""
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    prompt: int

    @property
    def steps(self):
        return self.q.shape[1] - self.prompt

    def expected(self):
        return causal_attention(self.q, self.k, self.v)


def random_item(rng, heads, dim, prompt, steps, scale=1.0):
    q, k, v = (rng.standard_normal((heads, prompt + steps, dim)) for _ in range(3))
    return Item(scale * q, scale * k, v, prompt)


def huge_padding(rng, shape):
    """Padding content that would dominate attention if it leaked in: big keys, bigger values."""
    q = rng.standard_normal(shape)
    k = 1e3 * rng.standard_normal(shape)
    v = 1e6 * rng.standard_normal(shape)
    return q, k, v


def padded_prompt(items, width, pad):
    """Right-padded (B, H, width, D) prompt arrays; pad = (q, k, v) arrays of that shape."""
    out = [p.copy() for p in pad]
    for b, it in enumerate(items):
        for arr, src in zip(out, (it.q, it.k, it.v)):
            arr[b, :, :it.prompt] = src[:, :it.prompt]
    return out


@dataclass
class Run:
    prefill: list   # per item: (H, prompt, D) prefill output rows of real tokens (None if no prefill)
    decode: list    # per item: (H, steps, D) decode outputs
    cache: object   # the solution's cache (RemoteHandle)


def drive(solution, items, max_len, width=None, pad=None):
    """Prefill all items (right-padded to `width`), then decode their remaining tokens in lockstep.

    Items with prompt 0 in a batch where all prompts are 0 skip the prefill call.
    """
    b, h, d = len(items), items[0].q.shape[0], items[0].q.shape[2]
    steps = items[0].steps
    assert all(it.steps == steps for it in items)
    cache = solution.make_kv_cache(b, h, d, max_len)
    prefill_rows = [None] * b
    if any(it.prompt for it in items):
        width = width or max(it.prompt for it in items)
        if pad is None:
            pad = tuple(np.zeros((b, h, width, d)) for _ in range(3))
        q, k, v = padded_prompt(items, width, pad)
        lengths = np.array([it.prompt for it in items], dtype=np.int64)
        out = np.asarray(cache.prefill(q, k, v, lengths), dtype=np.float64)
        assert out.shape == (b, h, width, d), f"prefill returned shape {out.shape}, expected {(b, h, width, d)}"
        prefill_rows = [out[i, :, :it.prompt] for i, it in enumerate(items)]
    outs = []
    for s in range(steps):
        step = [np.stack([getattr(it, name)[:, it.prompt + s] for it in items])[:, :, None, :]
                for name in ("q", "k", "v")]
        o = np.asarray(cache.decode(*step), dtype=np.float64)
        assert o.shape == (b, h, 1, d), f"decode returned shape {o.shape}, expected {(b, h, 1, d)}"
        outs.append(o[:, :, 0])
    decode_rows = [np.stack([o[i] for o in outs], axis=1) if outs else None for i in range(b)]
    return Run(prefill_rows, decode_rows, cache)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
