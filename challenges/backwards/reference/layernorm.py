"""LayerNorm forward and hand-derived backward over the last axis (NumPy reference).

y = gamma * (x - mean) / sqrt(var + eps) + beta, statistics per row of the last axis.
"""
from __future__ import annotations

import numpy as np


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Return (y, cache); the cache holds what the backward reuses."""
    x = np.asarray(x, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    # Two-pass variance: E[x^2] - E[x]^2 cancels catastrophically for large means.
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    y = gamma * xhat + beta
    cache = (xc, var, np.float64(eps), gamma)
    return y, cache


def layernorm_backward(dy, cache):
    """Return (dx, dgamma, dbeta) for upstream gradient dy of the forward's output."""
    xc, var, eps, gamma = cache
    dy = np.asarray(dy, dtype=np.float64)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    # Parameters are shared by every row: reduce over all leading axes.
    lead = tuple(range(dy.ndim - 1))
    dgamma = np.sum(dy * xhat, axis=lead)
    dbeta = np.sum(dy, axis=lead)
    g = dy * gamma  # gradient w.r.t. xhat
    # dx = rstd * (g - mean(g) - xhat * mean(g * xhat)): the direct path, the path
    # through the mean and the path through the variance.
    g_mean = g.mean(axis=-1, keepdims=True)
    gx_mean = np.mean(g * xhat, axis=-1, keepdims=True)
    dx = rstd * (g - g_mean - xhat * gx_mean)
    return dx, dgamma, dbeta
