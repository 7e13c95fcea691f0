"""Trusted helpers for the flash_attention_bwd suite: naive float64 attention, its
hand-written full backward, the log-sum-exp, and vectorised central finite differences.

Runs in the trusted test process only; never imports the solution. Every function
broadcasts over extra leading axes, which is how the finite differences evaluate many
perturbed inputs in one batched call.
"""
from __future__ import annotations

import numpy as np

from llmbench.conformance.scale import note_comparison


def _scores(Q, K, causal: bool):
    N, D = Q.shape[-2], Q.shape[-1]
    s = Q @ np.swapaxes(K, -1, -2) / np.sqrt(D)
    if causal:
        s = np.where(np.tril(np.ones((N, N), dtype=bool)), s, -np.inf)
    return s


def logsumexp_rows(Q, K, causal=True) -> np.ndarray:
    """L_i = log sum_j exp(s_ij) over the keys row i sees: (..., N)."""
    s = _scores(np.asarray(Q, np.float64), np.asarray(K, np.float64), causal)
    m = s.max(axis=-1)
    return m + np.log(np.exp(s - m[..., None]).sum(axis=-1))


def naive_forward(Q, K, V, causal=True):
    """(O, P) with the full probability matrix P."""
    s = _scores(Q, K, causal)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ V, p


def naive_attention_output(Q, K, V, causal=True) -> np.ndarray:
    return naive_forward(np.asarray(Q, np.float64), np.asarray(K, np.float64), np.asarray(V, np.float64), causal)[0]


def naive_backward(Q, K, V, dO, causal=True):
    """Gradients of sum(O * dO) from the full matrices: dV = P^T dO, dP = dO V^T,
    dS = P * (dP - rowsum(P * dP)), dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D)."""
    Q, K, V, dO = (np.asarray(a, np.float64) for a in (Q, K, V, dO))
    scale = 1.0 / np.sqrt(Q.shape[-1])
    _, p = naive_forward(Q, K, V, causal)
    dV = np.swapaxes(p, -1, -2) @ dO
    dp = dO @ np.swapaxes(V, -1, -2)
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))
    return ds @ K * scale, np.swapaxes(ds, -1, -2) @ Q * scale, dV


def fd_gradient(Q, K, V, dO, causal, wrt: str, positions, h=1e-5, chunk=256) -> np.ndarray:
    """Central differences of loss = sum(naive_forward(Q, K, V).O * dO) with respect to
    Q, K or V (`wrt`) at the given index tuples: (loss(x + h) - loss(x - h)) / 2h.

    The perturbed copies are stacked on a new leading axis and evaluated together.
    """
    args = {"Q": np.asarray(Q, np.float64), "K": np.asarray(K, np.float64), "V": np.asarray(V, np.float64)}
    base = args[wrt]
    positions = [tuple(int(i) for i in p) for p in positions]
    out = np.empty(len(positions))
    for start in range(0, len(positions), chunk):
        part = positions[start:start + chunk]
        stacked = np.repeat(base[None], 2 * len(part), axis=0)
        for k, pos in enumerate(part):
            stacked[(2 * k, *pos)] += h
            stacked[(2 * k + 1, *pos)] -= h
        call = dict(args, **{wrt: stacked})
        o, _ = naive_forward(call["Q"], call["K"], call["V"], causal)
        loss = (o * dO).reshape(len(stacked), -1).sum(axis=1)
        out[start:start + len(part)] = (loss[0::2] - loss[1::2]) / (2 * h)
    return out


def relative_error(got, want) -> float:
    """max |got - want| / max |want|; inf when got has non-finite entries."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    note_comparison(want)  # scale sanity (llmbench validate): relative bounds are scale-free
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape}, expected {want.shape}")
    if not np.all(np.isfinite(got)):
        return float("inf")
    return float(np.abs(got - want).max() / np.abs(want).max())


def make_inputs(seed: int, shape):
    """Q, K, V and a random upstream gradient dO (never all ones: that hides bugs)."""
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(shape) for _ in range(4))
