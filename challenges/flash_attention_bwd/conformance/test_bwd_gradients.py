"""flash_attention_bwd: gradients against finite differences and a naive full backward."""
from __future__ import annotations

import numpy as np
import pytest

from fab_calls import backward, forward, gradients
from fab_oracle import fd_gradient, logsumexp_rows, make_inputs, naive_attention_output, naive_backward, relative_error

FD_TOL = 1e-5  # against central differences (h = 1e-4: their own error is ~1e-10 here)
NAIVE_TOL = 1e-4  # against the naive full backward
H = 1e-4


def fd_errors(solution, shape, tile, causal, seed):
    """Relative errors of dV (all entries) and of dQ, dK at 10 random positions."""
    Q, K, V, dO = make_inputs(seed, shape)
    dQ, dK, dV = gradients(solution, Q, K, V, dO, tile, causal)
    fd_v = fd_gradient(Q, K, V, dO, causal, "V", list(np.ndindex(V.shape)), H).reshape(V.shape)
    rng = np.random.default_rng(seed + 100)
    pos = [tuple(int(i) for i in np.unravel_index(flat, Q.shape)) for flat in rng.choice(Q.size, 10, replace=False)]
    fd_q = fd_gradient(Q, K, V, dO, causal, "Q", pos, H)
    fd_k = fd_gradient(Q, K, V, dO, causal, "K", pos, H)
    return {"dV": relative_error(dV, fd_v),
            "dQ": relative_error(np.array([dQ[p] for p in pos]), fd_q),
            "dK": relative_error(np.array([dK[p] for p in pos]), fd_k)}


def assert_close_to_naive(grads, Q, K, V, dO, causal, what, which="QKV"):
    want = dict(zip("QKV", naive_backward(Q, K, V, dO, causal)))
    errs = {n: relative_error(g, want[n]) for n, g in zip("QKV", grads) if n in which}
    bad = {f"d{n}": f"{e:.3g}" for n, e in errs.items() if not e < NAIVE_TOL}
    assert not bad, f"{what}: relative error against the naive backward >= {NAIVE_TOL:g}: {bad}"
    return max(errs.values())


@pytest.mark.prompt("Deliver: Test 1, gradient check at (1,1,64,32), T=16, causal, 1e-5")
@pytest.mark.smoke
def test_gradients_match_finite_differences(solution, record_metric, inputs):
    inputs("Q,K,V,dO standard normal seed 0, shape (1,1,64,32); tile 16, causal=True; "
           "central differences h=1e-4 of sum(O*dO) on naive float64 attention; dQ/dK positions: rng seed 100")
    errs = fd_errors(solution, (1, 1, 64, 32), 16, True, seed=0)
    for name, err in errs.items():
        record_metric(f"fd_rel_error_{name.lower()}", err)
    bad = {k: f"{v:.3g}" for k, v in errs.items() if not v < FD_TOL}
    assert not bad, f"relative error against finite differences >= {FD_TOL:g}: {bad}"


@pytest.mark.prompt("Backward requirements 1-3 on any N (here not a multiple of the tile)")
@pytest.mark.parametrize("causal", [False, True])
def test_finite_differences_ragged(solution, inputs, causal, seeds):
    """N = 50 is not a multiple of the tile (16): the last tile has 2 rows/keys."""
    for seed in (1, *seeds):
        inputs(f"Q,K,V,dO standard normal seed {seed}, shape (1,2,50,16); tile 16, causal={causal}; FD h=1e-4")
        errs = fd_errors(solution, (1, 2, 50, 16), 16, causal, seed=seed)
        bad = {k: f"{v:.3g}" for k, v in errs.items() if not v < FD_TOL}
        assert not bad, f"seed {seed}: relative error against finite differences >= {FD_TOL:g}: {bad}"


@pytest.mark.prompt("Deliver: Test 2, against the naive backward at (2,4,256,64), T=64, 1e-4")
def test_matches_naive_backward(solution, record_metric, inputs):
    worst = 0.0
    for causal in (True, False):
        inputs("Q,K,V,dO standard normal seed 2, shape (2,4,256,64); tile 64; causal True and False")
        Q, K, V, dO = make_inputs(2, (2, 4, 256, 64))
        grads = gradients(solution, Q, K, V, dO, 64, causal)
        worst = max(worst, assert_close_to_naive(grads, Q, K, V, dO, causal, f"causal={causal}"))
    record_metric("naive_rel_error", worst)


@pytest.mark.prompt("Backward requirements 1-5 for any inputs, N not a multiple of the tile")
@pytest.mark.parametrize("causal", [True, False])
def test_seeds_and_distributions(solution, inputs, seeds, causal):
    """Public seeds plus the build's secret seed, N = 72 with tile 16 (not a multiple), and two
    input distributions: standard normal, and peaked scores with offset values (Q * 6, V + 50)."""
    inputs(f"seeds {', '.join(map(str, seeds))}; shape (1,2,72,16), tile 16, causal={causal}; "
           "Q,K,V,dO standard normal, then Q*6 and V+50; against the naive backward")
    for seed in seeds:
        for label, q_scale, v_offset in (("normal", 1.0, 0.0), ("peaked, offset", 6.0, 50.0)):
            Q, K, V, dO = make_inputs(seed, (1, 2, 72, 16))
            Q, V = Q * q_scale, V + v_offset
            grads = gradients(solution, Q, K, V, dO, 16, causal)
            assert_close_to_naive(grads, Q, K, V, dO, causal, f"seed {seed}, {label}, causal={causal}")


@pytest.mark.prompt("a minimal forward pass that stores O and L (first paragraph)")
def test_forward_output(solution, inputs, seeds):
    for seed in (3, *seeds):
        inputs(f"Q,K,V standard normal seed {seed}, shape (2,2,96,32); tile 32; causal True and False")
        Q, K, V, _ = make_inputs(seed, (2, 2, 96, 32))
        for causal in (True, False):
            O, _ = forward(solution, Q, K, V, 32, causal)
            err = relative_error(O, naive_attention_output(Q, K, V, causal))
            assert err < NAIVE_TOL, (f"seed {seed}, causal={causal}: forward output relative error {err:.3g} "
                                     f">= {NAIVE_TOL:g}")


@pytest.mark.prompt("Requirement 2e: the rowsum is over the key axis")
@pytest.mark.trap("rowsum_axis")
@pytest.mark.parametrize("shape,tile", [((2, 2, 96, 32), 32), ((1, 2, 80, 16), 32)])
def test_delta_sums_over_keys(solution, inputs, shape, tile):
    """delta_i = sum_j P_ij dP_ij (= sum_d dO_id O_id) is a sum along row i. Summed along
    another axis it still broadcasts when D equals the tile (first case) but is wrong.
    A check that needs no reference: shifting every key by one vector leaves O unchanged,
    so dK summed over the keys must vanish."""
    inputs(f"Q,K,V,dO standard normal seed 4, shape {shape}; tile {tile}; causal True and False")
    Q, K, V, dO = make_inputs(4, shape)
    for causal in (True, False):
        grads = gradients(solution, Q, K, V, dO, tile, causal)
        dK = grads[1]
        drift = np.abs(dK.sum(axis=2)).max() / np.abs(dK).max()
        assert drift < 1e-8, f"causal={causal}: dK summed over the keys is {drift:.3g} of max|dK|, must be 0"
        assert_close_to_naive(grads, Q, K, V, dO, causal, f"causal={causal}", which="QK")


@pytest.mark.prompt("Requirements 2d and 2e: dP = dO @ V^T, dS = P * (dP - rowsum)")
@pytest.mark.trap("do_for_dp")
@pytest.mark.parametrize("causal", [False, True])
def test_ds_uses_dp(solution, inputs, causal):
    """dS = P * (dP - delta) needs dP = dO V^T (one entry per query and key), not dO (one per
    query and feature); D equals the tile here, so the mix-up still has matching shapes."""
    inputs(f"Q,K,V,dO standard normal seed 5, shape (2,2,128,32); tile 32; causal={causal}")
    Q, K, V, dO = make_inputs(5, (2, 2, 128, 32))
    grads = gradients(solution, Q, K, V, dO, 32, causal)
    assert_close_to_naive(grads, Q, K, V, dO, causal, f"causal={causal}")


@pytest.mark.prompt("forward stores L = m + log(l); Deliver: cache with 'L' of shape (B, H, N)")
@pytest.mark.trap("l_instead_of_lse")
@pytest.mark.parametrize("causal", [True, False])
def test_cache_holds_row_logsumexp(solution, inputs, causal):
    """cache['L'] must be m + log(l), the log-sum-exp of each row's scaled scores, and the
    backward must recover P = exp(S - L) from it."""
    inputs(f"Q,K,V,dO standard normal seed 6, shape (1,2,128,32); tile 32; causal={causal}")
    Q, K, V, dO = make_inputs(6, (1, 2, 128, 32))
    O, cache = forward(solution, Q, K, V, 32, causal)
    assert isinstance(cache, dict) and "L" in cache, (
        f"the cache must be a dict holding 'L' (B, H, N); got {type(cache).__name__}"
        + (f" with keys {sorted(map(str, cache))}" if isinstance(cache, dict) else ""))
    L = np.asarray(cache["L"], dtype=np.float64)
    want = logsumexp_rows(Q, K, causal)
    assert L.shape == want.shape, f"cache['L'] has shape {L.shape}, expected {want.shape}"
    err = float(np.abs(L - want).max()) if np.all(np.isfinite(L)) else float("inf")
    limit = 1e-8 * max(1.0, float(np.abs(want).max()))
    assert err < limit, (
        f"cache['L'] differs from the rows' log-sum-exp by up to {err:.3g} (is it l, or m, instead of m + log l?)")
    grads = backward(solution, dO, cache, 32, causal)
    assert_close_to_naive(grads, Q, K, V, dO, causal, f"causal={causal}")


@pytest.mark.prompt("Requirement 2, IMPORTANT: contributions are accumulated across KV tiles")
@pytest.mark.trap("overwrite_not_accumulate")
@pytest.mark.parametrize("causal", [False, True])
def test_gradients_accumulate_over_tiles(solution, inputs, causal):
    """Eight tiles a side: each dQ row collects a term from every KV tile it sees, and each
    dK/dV row from every query tile that sees it."""
    inputs(f"Q,K,V,dO standard normal seed 7, shape (1,2,128,32); tile 16; causal={causal}")
    Q, K, V, dO = make_inputs(7, (1, 2, 128, 32))
    grads = gradients(solution, Q, K, V, dO, 16, causal)
    assert_close_to_naive(grads, Q, K, V, dO, causal, f"causal={causal}")


@pytest.mark.prompt("Requirement 2a: S = Q K^T * scale, so dQ and dK carry the scale")
@pytest.mark.trap("scale_missing")
@pytest.mark.parametrize("causal", [True, False])
def test_dq_dk_carry_the_scale(solution, inputs, causal):
    """S = Q K^T / sqrt(D), so dQ = dS K / sqrt(D) and dK = dS^T Q / sqrt(D); with D = 64 a
    missing factor is off by 8."""
    inputs(f"Q,K,V,dO standard normal seed 8, shape (1,2,96,64); tile 32; causal={causal}")
    Q, K, V, dO = make_inputs(8, (1, 2, 96, 64))
    grads = gradients(solution, Q, K, V, dO, 32, causal)
    assert_close_to_naive(grads, Q, K, V, dO, causal, f"causal={causal}", which="QK")


@pytest.mark.prompt("Requirement 5: causal masking in the backward")
@pytest.mark.trap("masked_tiles_contribute")
@pytest.mark.parametrize("n,tile", [(128, 32), (100, 32)])
def test_hidden_keys_get_no_gradient_path(solution, inputs, n, tile):
    """Causal: query tiles wholly before a key tile see none of its keys, so they must add
    nothing to its dK/dV, nor to their own dQ; P recomputed there as exp(S - L) is not 0."""
    inputs(f"Q,K,V,dO standard normal seed 9, shape (1,2,{n},32); tile {tile}; causal=True")
    Q, K, V, dO = make_inputs(9, (1, 2, n, 32))
    grads = gradients(solution, Q, K, V, dO, tile, True)
    assert_close_to_naive(grads, Q, K, V, dO, True, f"causal, N={n}, tile {tile}")
