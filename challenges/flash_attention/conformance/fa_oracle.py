"""Trusted helpers for the flash_attention suite: naive attention and input builders.

Runs in the trusted test process only; never imports the solution.
"""
from __future__ import annotations

import numpy as np

from llmbench.conformance.scale import note_comparison


def visible(n: int, causal: bool, key_padding_mask=None, batch: int = 1) -> np.ndarray:
    """(B, 1, N, N) bool: query i may attend to key j. Fine for the small N of naive checks."""
    vis = np.tril(np.ones((n, n), dtype=bool)) if causal else np.ones((n, n), dtype=bool)
    vis = np.broadcast_to(vis, (batch, 1, n, n))
    if key_padding_mask is not None:
        vis = vis & np.asarray(key_padding_mask, dtype=bool)[:, None, None, :]
    return vis


def naive_attention(Q, K, V, causal=True, key_padding_mask=None) -> np.ndarray:
    """softmax(Q K^T / sqrt(D)) V in float64 with the full score matrix.

    Rows that see no key at all come back as NaN so that tests can leave them out.
    """
    Q, K, V = (np.asarray(a, dtype=np.float64) for a in (Q, K, V))
    B, _, N, D = Q.shape
    s = Q @ K.swapaxes(-1, -2) / np.sqrt(D)
    vis = visible(N, causal, key_padding_mask, B)
    s = np.where(vis, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    seen = np.isfinite(m)
    p = np.exp(s - np.where(seen, m, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (p @ V) / p.sum(axis=-1, keepdims=True)
    return np.where(seen, out, np.nan)


def naive_rows(Q, K, V, rows, causal=True) -> np.ndarray:
    """Naive attention for the query rows `rows` only: (B, H, len(rows), D), cheap at large N."""
    Q, K, V = (np.asarray(a, dtype=np.float64) for a in (Q, K, V))
    rows = np.asarray(rows)
    N, D = Q.shape[2], Q.shape[3]
    s = Q[:, :, rows] @ K.swapaxes(-1, -2) / np.sqrt(D)
    if causal:
        s = np.where(np.arange(N)[None, :] > rows[:, None], -np.inf, s)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p @ V) / p.sum(axis=-1, keepdims=True)


def relative_error(got, want) -> float:
    """max |got - want| / max |want| over the finite entries of want; inf if got is not finite there."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"output shape {got.shape}, expected {want.shape}")
    note_comparison(want)  # scale sanity (llmbench validate): relative bounds are scale-free
    keep = np.isfinite(want)
    if not np.all(np.isfinite(got[keep])):
        return float("inf")
    return float(np.abs(got[keep] - want[keep]).max() / np.abs(want[keep]).max())


def qkv(seed: int, shape, dtype=np.float64, q_scale: float = 1.0):
    rng = np.random.default_rng(seed)
    Q, K, V = (rng.standard_normal(shape) for _ in range(3))
    return (Q * q_scale).astype(dtype), K.astype(dtype), V.astype(dtype)


def rising_scores(seed: int, shape, top: float):
    """Q, K, V whose scores grow with the key index, so each row's running max rises
    from every KV tile to the next; the largest score of a row is about `top`.

    Every query points along one unit direction u; key j is (top * j / (N - 1)) * sqrt(D) * u
    plus a little noise, so s_ij is about top * j / (N - 1).
    """
    rng = np.random.default_rng(seed)
    B, H, N, D = shape
    u = rng.standard_normal(D)
    u /= np.linalg.norm(u)
    Q = np.broadcast_to(u, shape) * (1.0 + 0.1 * rng.random((B, H, N, 1)))
    ramp = (top * np.arange(N) / (N - 1) * np.sqrt(D))[None, None, :, None]
    K = ramp * u + 0.05 * rng.standard_normal(shape)
    V = rng.standard_normal(shape)
    return np.ascontiguousarray(Q), K, V


def tile_max_rises(Q, K, tile: int, causal: bool) -> float:
    """Fraction of (row, later visible KV tile) steps where a row's running max rises.

    Used to check that a test's inputs really exercise the rescaling.
    """
    Q, K = np.asarray(Q, np.float64), np.asarray(K, np.float64)
    N, D = Q.shape[2], Q.shape[3]
    s = Q @ K.swapaxes(-1, -2) / np.sqrt(D)
    if causal:
        s = np.where(np.tril(np.ones((N, N), bool)), s, -np.inf)
    n_tiles = -(-N // tile)
    tile_max = np.stack([s[..., t * tile:(t + 1) * tile].max(-1) for t in range(n_tiles)], -1)
    running = np.maximum.accumulate(tile_max, axis=-1)
    steps = np.isfinite(tile_max[..., 1:])  # only tiles the row can see
    rises = (running[..., 1:] > running[..., :-1]) & steps
    return float(rises.sum() / max(steps.sum(), 1))
