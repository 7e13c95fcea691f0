"""Calling the solution's forward/backward from the trusted tests, with shape checks."""
from __future__ import annotations

import numpy as np


def forward(solution, Q, K, V, tile, causal):
    result = solution.flash_attention_fwd(Q, K, V, tile, causal=causal)
    assert isinstance(result, (tuple, list)) and len(result) == 2, (
        f"flash_attention_fwd must return (O, cache), got {type(result).__name__}")
    O, cache = result
    O = np.asarray(O)
    assert O.shape == Q.shape, f"O has shape {O.shape}, expected {Q.shape}"
    return O, cache


def backward(solution, dO, cache, tile, causal):
    result = solution.flash_attention_bwd(dO, cache, tile, causal=causal)
    assert isinstance(result, (tuple, list)) and len(result) == 3, (
        f"flash_attention_bwd must return (dQ, dK, dV), got {type(result).__name__}")
    grads = [np.asarray(g) for g in result]
    for name, g in zip("QKV", grads):
        assert g.shape == dO.shape, f"d{name} has shape {g.shape}, expected {dO.shape}"
    return grads


def gradients(solution, Q, K, V, dO, tile, causal):
    _, cache = forward(solution, Q, K, V, tile, causal)
    return backward(solution, dO, cache, tile, causal)


def cache_arrays(cache, path="cache"):
    """(path, array) for every array in a plain-data cache (dicts, lists, tuples)."""
    if isinstance(cache, np.ndarray):
        yield path, cache
    elif isinstance(cache, dict):
        for key, value in cache.items():
            yield from cache_arrays(value, f"{path}[{key!r}]")
    elif isinstance(cache, (list, tuple)):
        for i, value in enumerate(cache):
            yield from cache_arrays(value, f"{path}[{i}]")
