"""Tiled attention forward and backward with recomputation (llmbench reference solution).

The forward saves only O and the row log-sum-exp L = m + log(l) (besides the inputs);
the backward recomputes each score tile from Q, K and L, so neither pass holds anything
of size N x N. All (batch, head) pairs are handled at once per tile pair.
"""
from __future__ import annotations

import numpy as np


def _tiles(n: int, tile: int):
    """(start, stop) of each tile; the last one may be shorter."""
    return [(t, min(t + tile, n)) for t in range(0, n, tile)]


def _check(Q, K, V, tile_size):
    Q, K, V = (np.asarray(a, dtype=np.float64) for a in (Q, K, V))
    if Q.ndim != 4 or Q.shape != K.shape or Q.shape != V.shape:
        raise ValueError(f"Q, K, V must share one shape (B, H, N, D): {Q.shape}, {K.shape}, {V.shape}")
    if int(tile_size) != tile_size or tile_size < 1:
        raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
    return Q, K, V, int(tile_size)


def _causal_mask(q0, q1, k0, k1):
    """True where key j lies after query i (hidden under causal attention)."""
    return np.arange(k0, k1)[None, :] > np.arange(q0, q1)[:, None]


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    """O = softmax(Q K^T / sqrt(D)) V (causal by default) and the cache for the backward.

    Returns (O, cache) with cache = {"Q", "K", "V", "O", "L"}; L (B, H, N) is the
    log-sum-exp of each row's (scaled, masked) scores.
    """
    Q, K, V, tile = _check(Q, K, V, tile_size)
    B, H, N, D = Q.shape
    scale = 1.0 / np.sqrt(D)
    O = np.zeros_like(Q)
    L = np.zeros((B, H, N))
    tiles = _tiles(N, tile)
    for qi, (q0, q1) in enumerate(tiles):
        q_t = Q[:, :, q0:q1] * scale
        m = np.full((B, H, q1 - q0), -np.inf)
        l = np.zeros((B, H, q1 - q0))
        acc = np.zeros((B, H, q1 - q0, D))
        # Causal: key tiles after the diagonal one are wholly hidden; with top-left
        # masking every row sees key 0, so m is finite after the first tile.
        for k0, k1 in tiles[: qi + 1] if causal else tiles:
            s = q_t @ K[:, :, k0:k1].swapaxes(-1, -2)
            if causal and k1 - 1 > q0:
                s[..., _causal_mask(q0, q1, k0, k1)] = -np.inf
            m_new = np.maximum(m, s.max(axis=-1))
            alpha = np.exp(m - m_new)  # exp(-inf) = 0 on the first tile
            p = np.exp(s - m_new[..., None])
            l = l * alpha + p.sum(axis=-1)
            acc = acc * alpha[..., None] + p @ V[:, :, k0:k1]
            m = m_new
        O[:, :, q0:q1] = acc / l[..., None]
        L[:, :, q0:q1] = m + np.log(l)
    return O, {"Q": Q, "K": K, "V": V, "O": O, "L": L}


def flash_attention_bwd(dO, cache, tile_size, causal=True):
    """Gradients (dQ, dK, dV) of sum(O * dO), recomputing P tile by tile from L.

    Outer loop over key tiles (their dK, dV accumulate locally), inner loop over the
    query tiles that can see them (dQ accumulates in place across key tiles).
    """
    Q, K, V, tile = _check(cache["Q"], cache["K"], cache["V"], tile_size)
    O = np.asarray(cache["O"], dtype=np.float64)
    L = np.asarray(cache["L"], dtype=np.float64)
    dO = np.asarray(dO, dtype=np.float64)
    if dO.shape != O.shape:
        raise ValueError(f"dO has shape {dO.shape}, expected {O.shape}")
    scale = 1.0 / np.sqrt(Q.shape[-1])
    dQ, dK, dV = np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)
    tiles = _tiles(Q.shape[2], tile)
    for kj, (k0, k1) in enumerate(tiles):
        k_t, v_t = K[:, :, k0:k1], V[:, :, k0:k1]
        dk_t, dv_t = np.zeros_like(k_t), np.zeros_like(v_t)
        # Causal: query tiles before the diagonal one see none of these keys.
        first_q = kj if causal else 0
        for qi in range(first_q, len(tiles)):
            q0, q1 = tiles[qi]
            q_t, do_t = Q[:, :, q0:q1], dO[:, :, q0:q1]
            s = (q_t @ k_t.swapaxes(-1, -2)) * scale
            if causal and qi == kj:
                s[..., _causal_mask(q0, q1, k0, k1)] = -np.inf
            p = np.exp(s - L[:, :, q0:q1, None])  # the softmax probabilities, recomputed
            dv_t += p.swapaxes(-1, -2) @ do_t
            dp = do_t @ v_t.swapaxes(-1, -2)
            # delta_i = sum_j P_ij dP_ij = sum_d dO_id O_id: a sum over the row's keys,
            # computed from dO and O because this tile holds only part of the row.
            delta = np.sum(do_t * O[:, :, q0:q1], axis=-1)
            ds = p * (dp - delta[..., None])
            dQ[:, :, q0:q1] += (ds @ k_t) * scale
            dk_t += (ds.swapaxes(-1, -2) @ q_t) * scale
        dK[:, :, k0:k1] = dk_t
        dV[:, :, k0:k1] = dv_t
    return dQ, dK, dV
