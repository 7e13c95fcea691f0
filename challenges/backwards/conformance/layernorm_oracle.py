"""Trusted LayerNorm maths for the conformance tests (runs in the test process only)."""
from __future__ import annotations

import numpy as np

from llmbench.conformance.scale import note_comparison


def forward(x, gamma, beta, eps):
    """Two-pass LayerNorm over the last axis, float64."""
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return gamma * xc / np.sqrt(var + eps) + beta


def backward(x, gamma, eps, dy):
    """Closed-form gradients, used where finite differences cannot resolve (huge offsets)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(np.mean(xc * xc, axis=-1, keepdims=True) + eps)
    xhat = xc * rstd
    lead = tuple(range(x.ndim - 1))
    g = dy * gamma
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * np.mean(g * xhat, -1, keepdims=True))
    return dx, np.sum(dy * xhat, axis=lead), np.sum(dy, axis=lead)


def finite_differences(x, gamma, beta, eps, dy, h=1e-6):
    """Central differences of L = sum(dy * y) w.r.t. x, gamma and beta.

    Vectorised: every row depends only on its own entries, so perturbing column j of
    all rows at once gives column j of dx in one forward evaluation; (D, ...) stacks
    hold all D perturbations together. Differences of y are taken before the sum
    over dy so the loss's large common part never cancels.
    """
    d = x.shape[-1]
    # basis[j] is e_j broadcast against x: shape (D, 1, ..., 1, D).
    basis = np.eye(d).reshape((d,) + (1,) * (x.ndim - 1) + (d,))
    xs, dys = x[None], dy[None]
    every = tuple(range(1, x.ndim + 1))

    def diff(yp, ym, axes):
        return np.sum(dys * (yp - ym), axis=axes) / (2 * h)

    # Column j of dx: perturb column j of every row; reduce over the last axis only.
    ddx = diff(forward(xs + h * basis, gamma, beta, eps), forward(xs - h * basis, gamma, beta, eps), -1)
    dx = np.moveaxis(ddx, 0, -1)
    dgamma = diff(forward(xs, gamma + h * basis, beta, eps), forward(xs, gamma - h * basis, beta, eps), every)
    dbeta = diff(forward(xs, gamma, beta + h * basis, eps), forward(xs, gamma, beta - h * basis, eps), every)
    return dx, dgamma, dbeta


def rel_error(got, want):
    got = np.asarray(got, dtype=np.float64)
    note_comparison(want)  # scale sanity (llmbench validate): relative bounds are scale-free
    scale = max(float(np.max(np.abs(want))), 1e-12)
    return float(np.max(np.abs(got - want))) / scale
