"""Conformance suite for LayerNorm forward/backward.

The cache returned by layernorm_forward is passed back untouched: it may be plain data
or a RemoteHandle, the tests never look inside it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the trusted oracle beside this file
import layernorm_oracle as oracle  # noqa: E402


def run(solution, x, gamma, beta, eps, dy):
    """Forward then backward through the solution; returns y, dx, dgamma, dbeta as float64."""
    out = solution.layernorm_forward(x, gamma, beta, eps)
    assert isinstance(out, (tuple, list)) and len(out) == 2, "layernorm_forward must return (y, cache)"
    y, cache = out
    grads = solution.layernorm_backward(dy, cache)
    assert isinstance(grads, (tuple, list)) and len(grads) == 3, \
        "layernorm_backward must return (dx, dgamma, dbeta)"
    return (np.asarray(y, dtype=np.float64),) + tuple(np.asarray(g, dtype=np.float64) for g in grads)


def problem(seed, shape, eps=1e-5, scale=1.0, offset=0.0):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    x = offset + scale * rng.standard_normal(shape)
    gamma = 1.0 + 0.5 * rng.standard_normal(d)
    beta = rng.standard_normal(d)
    dy = rng.standard_normal(shape)
    return x, gamma, beta, eps, dy


def assert_close(name, got, want, tol):
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    assert np.all(np.isfinite(got)), f"{name}: non-finite values ({np.sum(~np.isfinite(got))} entries)"
    err = oracle.rel_error(got, want)
    assert err < tol, f"{name}: relative error {err:.3g} > {tol:g} (max |expected| {np.max(np.abs(want)):.3g})"
    return err


@pytest.mark.prompt("Constraints: the forward formula")
@pytest.mark.smoke
def test_forward_matches_two_pass(solution, inputs):
    inputs("seed=0 x~N(0,1) shape=(2,3,8) eps=1e-5")
    x, gamma, beta, eps, _ = problem(0, (2, 3, 8))
    y, _cache = solution.layernorm_forward(x, gamma, beta, eps)
    assert_close("y", np.asarray(y, dtype=np.float64), oracle.forward(x, gamma, beta, eps), 1e-10)


@pytest.mark.prompt("Requirement 1: gradients w.r.t. x, gamma, beta")
@pytest.mark.smoke
def test_backward_runs_on_returned_cache(solution, inputs):
    inputs("seed=1 shape=(2,3,8) eps=1e-5")
    x, gamma, beta, eps, dy = problem(1, (2, 3, 8))
    _, dx, _, _ = run(solution, x, gamma, beta, eps, dy)
    assert dx.shape == x.shape and np.all(np.isfinite(dx))


@pytest.mark.prompt("Constraints: the forward formula (eps inside the square root)")
def test_forward_honours_eps(solution, inputs, seeds):
    # Rows with std 0.01 (var 1e-4): eps of 1e-4 .. 1 changes y by factors, not rounding.
    for seed in (2, *seeds):
        for eps in (1e-4, 1e-2, 1.0):
            inputs(f"seed={seed} x~N(0,0.01^2) shape=(2,3,6) eps={eps}")
            x, gamma, beta, _, _ = problem(seed, (2, 3, 6), scale=0.01)
            y, _cache = solution.layernorm_forward(x, gamma, beta, eps)
            assert_close(f"y (seed {seed}, eps={eps})", np.asarray(y, dtype=np.float64),
                         oracle.forward(x, gamma, beta, eps), 1e-9)


@pytest.mark.beyond("reusing one cache for several backward calls is our API; the study gave none")
def test_cache_reusable_and_backward_linear(solution, inputs):
    # Two backward calls on one cache must not disturb each other: the gradient is linear in dy.
    inputs("seed=3 shape=(2,4,5) eps=1e-5, dy1, dy2 and dy1+dy2 on one cache")
    x, gamma, beta, eps, dy1 = problem(3, (2, 4, 5))
    dy2 = np.random.default_rng(33).standard_normal(x.shape)
    _y, cache = solution.layernorm_forward(x, gamma, beta, eps)
    g1 = solution.layernorm_backward(dy1, cache)
    g2 = solution.layernorm_backward(dy2, cache)
    g12 = solution.layernorm_backward(dy1 + dy2, cache)
    for name, a, b, c in zip(("dx", "dgamma", "dbeta"), g1, g2, g12):
        assert_close(name, np.asarray(c, dtype=np.float64), np.asarray(a) + np.asarray(b), 1e-10)


# --- variance_cancellation -------------------------------------------------------------

@pytest.mark.prompt("title and Requirement 3: a numerically stable backward")
@pytest.mark.trap("variance_cancellation")
@pytest.mark.parametrize("offset", [1e8, 1e9, 1e10])
def test_large_mean_offset(solution, record_metric, inputs, offset):
    # Unit variance on top of a huge mean: E[x^2]-E[x]^2 loses every digit of the
    # variance in float64 (error ~ offset^2 * 1e-16); two-pass variants agree to ~3e-6.
    # LayerNorm ignores a shift of the whole row, so the gradients must equal the
    # solution's own gradients for the same rows without the offset: this isolates
    # the variance from any other gradient bug.
    inputs(f"seed=4 x = {offset:g} + N(0,1), shape=(2,4,64), eps=1e-5; same rows minus {offset:g}")
    x, gamma, beta, eps, dy = problem(4, (2, 4, 64), offset=offset)
    y, *grads = run(solution, x, gamma, beta, eps, dy)
    want_y = oracle.forward(x, gamma, beta, eps)
    assert y.shape == want_y.shape and np.all(np.isfinite(y)), \
        f"y has {np.sum(~np.isfinite(y))} non-finite entries at offset {offset:g} (negative variance?)"
    err = float(np.max(np.abs(y - want_y)))
    if offset == 1e10:
        record_metric("large_offset_y_error", err)
    assert err < 1e-4, f"max |y - y_two_pass| = {err:.3g} at mean offset {offset:g}: variance cancelled?"
    _, *centred = run(solution, x - offset, gamma, beta, eps, dy)
    for name, got, want in zip(("dx", "dgamma", "dbeta"), grads, centred):
        assert_close(f"{name} at offset {offset:g} vs without offset", got, want, 1e-4)


# --- dx_missing_term --------------------------------------------------------------------

@pytest.mark.prompt("Requirement 1: gradient w.r.t. x")
@pytest.mark.trap("dx_missing_term")
@pytest.mark.parametrize("seed,shape", [(5, (2, 3, 7)), (6, (1, 4, 16))])
def test_dx_matches_finite_differences(solution, record_metric, inputs, seed, shape):
    # dx = rstd * (g - mean(g) - xhat * mean(g * xhat)): a missing term is an O(1) error.
    inputs(f"seed={seed} x~N(0,1) shape={shape} eps=1e-5, central differences h=1e-6")
    x, gamma, beta, eps, dy = problem(seed, shape)
    _, dx, _, _ = run(solution, x, gamma, beta, eps, dy)
    want, _, _ = oracle.finite_differences(x, gamma, beta, eps, dy)
    # Translation invariance of y makes each row of dx sum to zero: missing the mean
    # term breaks it, missing the variance term keeps it but fails the comparison.
    row_sums = float(np.max(np.abs(dx.sum(axis=-1))))
    err = assert_close("dx vs finite differences", dx, want, 1e-4)
    if seed == 5:
        record_metric("dx_rel_error", err)
    assert row_sums < 1e-8 * max(1.0, float(np.max(np.abs(dx)))), f"rows of dx sum to {row_sums:.3g}, not 0"


@pytest.mark.prompt("Requirement 1: gradients w.r.t. x, gamma, beta for any (B, T, D) input")
def test_seeds_and_distributions(solution, inputs, seeds):
    """Public seeds plus the build's secret seed, D = 37 (no power of two), and two input
    distributions: standard normal, and rows offset by 1e3 with spread 10."""
    inputs(f"seeds {', '.join(map(str, seeds))}; shape (3,5,37), eps 1e-5; x ~ N(0,1), then x ~ 1e3 + 10 N(0,1); "
           "against the float64 analytic backward")
    for seed in seeds:
        for label, scale, offset in (("normal", 1.0, 0.0), ("offset 1e3", 10.0, 1e3)):
            x, gamma, beta, eps, dy = problem(seed, (3, 5, 37), scale=scale, offset=offset)
            y, dx, dgamma, dbeta = run(solution, x, gamma, beta, eps, dy)
            want_dx, want_dgamma, want_dbeta = oracle.backward(x, gamma, eps, dy)
            assert_close(f"seed {seed}, {label}: y", y, oracle.forward(x, gamma, beta, eps), 1e-8)
            assert_close(f"seed {seed}, {label}: dx", dx, want_dx, 1e-6)
            assert_close(f"seed {seed}, {label}: dgamma", dgamma, want_dgamma, 1e-6)
            assert_close(f"seed {seed}, {label}: dbeta", dbeta, want_dbeta, 1e-6)


# --- reduction_axes ---------------------------------------------------------------------

@pytest.mark.prompt("Requirement 1: gradients w.r.t. gamma, beta of shape (D,) for x of shape (B, T, D)")
@pytest.mark.trap("reduction_axes")
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 1, 6), (1, 5, 3)])
def test_parameter_gradients_reduce_batch_and_time(solution, inputs, shape):
    # dgamma and dbeta sum over every position (B and T), never over D.
    inputs(f"seed=7 x~N(0,1) shape={shape} eps=1e-5")
    x, gamma, beta, eps, dy = problem(7, shape)
    _, _, dgamma, dbeta = run(solution, x, gamma, beta, eps, dy)
    _, want_dg, want_db = oracle.finite_differences(x, gamma, beta, eps, dy)
    assert_close("dgamma", dgamma, want_dg, 1e-4)
    assert_close("dbeta", dbeta, want_db, 1e-4)


# --- eps_backward -----------------------------------------------------------------------

def zero_mean_upstream(rng, shape, gamma):
    """dy whose g = dy * gamma has zero row mean, so dx has no mean-path term."""
    g = rng.standard_normal(shape)
    g -= g.mean(axis=-1, keepdims=True)
    return g / gamma


@pytest.mark.prompt("Requirement 1: the gradient of the stated forward, eps included")
@pytest.mark.trap("eps_backward")
@pytest.mark.parametrize("scale,eps", [(1e-3, 1e-2), (1e-2, 1.0), (1e-4, 1e-5)])
def test_backward_uses_eps(solution, inputs, scale, eps):
    # Rows with var = scale^2 far below eps: then dx ~ g / sqrt(var + eps), its other
    # terms vanish (zero-mean g, xhat ~ scale/sqrt(eps)), and 1/sqrt(var) is off by
    # sqrt(eps/var) = 10x or more. Finite differences of the eps-honouring forward rule.
    inputs(f"seed=8 x~N(0,{scale}^2) shape=(2,3,6) eps={eps}; g=dy*gamma zero row mean")
    x, gamma, beta, _, _ = problem(8, (2, 3, 6), scale=scale)
    gamma = np.abs(gamma) + 0.5  # keeps dy = g / gamma moderate
    dy = zero_mean_upstream(np.random.default_rng(88), x.shape, gamma)
    _, dx, _, _ = run(solution, x, gamma, beta, eps, dy)
    want_dx, _, _ = oracle.finite_differences(x, gamma, beta, eps, dy, h=1e-3 * scale)
    assert_close(f"dx (eps={eps}, row std {scale:g})", dx, want_dx, 1e-3)


# --- degenerate_rows --------------------------------------------------------------------

@pytest.mark.prompt("Requirements 1 and 3: correct, stable gradients for any (B, T, D) input")
@pytest.mark.trap("degenerate_rows")
def test_single_feature(solution, inputs):
    # D=1: every row is its own mean, so y = beta and dx = dgamma = 0.
    inputs("seed=9 shape=(2,3,1) eps=1e-5")
    x, gamma, beta, eps, dy = problem(9, (2, 3, 1))
    y, dx, dgamma, dbeta = run(solution, x, gamma, beta, eps, dy)
    for name, got in (("y", y), ("dx", dx), ("dgamma", dgamma), ("dbeta", dbeta)):
        assert np.all(np.isfinite(got)), f"D=1: {name} is not finite: {got.ravel()[:6]}"
    assert_close("y", y, np.broadcast_to(beta, x.shape), 1e-9)
    assert dx.shape == x.shape and np.max(np.abs(dx)) < 1e-9, f"D=1: dx should be 0, got {dx.ravel()[:6]}"
    assert np.max(np.abs(dgamma)) < 1e-9, f"D=1: dgamma should be 0, got {dgamma.ravel()[:6]}"


@pytest.mark.prompt("Requirements 1 and 3: correct, stable gradients for any (B, T, D) input")
@pytest.mark.trap("degenerate_rows")
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_constant_rows(solution, inputs, eps):
    # A constant row has var=0: y = beta and, since eps > 0, dx = (g - mean g)/sqrt(eps),
    # finite and non-zero; zeroing it or dividing by sqrt(var) are both wrong. g has
    # zero row mean, so only the direct term is non-zero on these rows.
    rows = ([0, 1, 1], [1, 2, 0])
    inputs(f"seed=10 shape=(2,3,6) eps={eps}; rows (0,1)=3.5, (1,2)=0, (1,0)=-1e3 constant")
    x, gamma, beta, _, _ = problem(10, (2, 3, 6))
    gamma = np.abs(gamma) + 0.5
    dy = zero_mean_upstream(np.random.default_rng(100), x.shape, gamma)
    x[0, 1], x[1, 2], x[1, 0] = 3.5, 0.0, -1e3
    y, dx, _, _ = run(solution, x, gamma, beta, eps, dy)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)), "non-finite output with constant rows"
    assert_close("y on constant rows", y[rows], np.broadcast_to(beta, (3, 6)), 1e-9)
    want_dx, _, _ = oracle.finite_differences(x, gamma, beta, eps, dy)
    assert_close("dx on constant rows", dx[rows], want_dx[rows], 1e-4)


# --- performance figures (no verdict) ---------------------------------------------------

@pytest.mark.beyond("a timing figure; the prompt asks for a complexity analysis (Requirement 5), not a speed")
def test_throughput(solution, record_metric, inputs):
    inputs("seed=11 shape=(8,256,768) eps=1e-5, best of 3")
    x, gamma, beta, eps, dy = problem(11, (8, 256, 768))
    fwd, bwd = [], []
    for _ in range(3):
        f = solution.call("layernorm_forward", x, gamma, beta, eps, measure_memory=False)
        y, cache = f.value
        b = solution.call("layernorm_backward", dy, cache, measure_memory=False)
        fwd.append(f.seconds)
        bwd.append(b.seconds)
    record_metric("forward_seconds", min(fwd))
    record_metric("backward_seconds", min(bwd))
    mem = solution.call("layernorm_backward", dy, cache, measure_memory=True)
    record_metric("backward_peak_over_input", mem.peak_bytes / x.nbytes)
    assert np.all(np.isfinite(np.asarray(mem.value[0])))
