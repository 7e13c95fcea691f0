"""ternary_project and the ternary linear layer: codes, per-group scales, remainder groups,
straight-through backward. Cheap tests; the training run lives in test_training.py."""
from __future__ import annotations

import numpy as np
import pytest
from llmbench.conformance import SolutionError

G = 128


def expected_projection(W: np.ndarray, g: int):
    """Trusted float64 projection: groups of g along the last axis, a shorter last group
    when the length is not a multiple of g; s = mean |W| over the group's own elements."""
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[-1]
    bounds = list(range(0, n, g)) + [n]
    scales = np.stack([np.abs(W[..., a:b]).mean(axis=-1) for a, b in zip(bounds[:-1], bounds[1:])], axis=-1)
    per_elem = np.concatenate([np.repeat(scales[..., i:i + 1], b - a, axis=-1)
                               for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))], axis=-1)
    ratio = np.divide(W, per_elem, out=np.zeros_like(W), where=per_elem > 0)
    codes = np.clip(np.rint(ratio), -1, 1)
    return codes, scales, per_elem, ratio


def check_codes(codes, W, g, where=""):
    exp_codes, _, _, ratio = expected_projection(W, g)
    codes = np.asarray(codes)
    assert codes.shape == W.shape, f"{where}codes shape {codes.shape}, expected {W.shape}"
    values = set(np.unique(codes).tolist())
    assert values <= {-1, 0, 1}, f"{where}codes take values {sorted(values)}; ternary codes are -1, 0, 1 only"
    near_half = np.abs(np.abs(ratio) - 0.5) < 1e-9  # rounding ties: either side is fine
    bad = (codes != exp_codes) & ~near_half
    assert not bad.any(), (f"{where}{int(bad.sum())} codes differ from clip(round(W / s), -1, 1), "
                           f"e.g. W/s={ratio[bad][0]:.3f} -> {codes[bad][0]} (expected {exp_codes[bad][0]:.0f})")


def check_scales(scales, W, g, where=""):
    _, exp_scales, _, _ = expected_projection(W, g)
    scales = np.asarray(scales, dtype=np.float64)
    assert scales.shape == exp_scales.shape, (
        f"{where}scales shape {scales.shape}, expected {exp_scales.shape} "
        f"(one scale per group of {g} along the last axis, remainder group included)")
    np.testing.assert_allclose(scales, exp_scales, rtol=1e-6, atol=0,
                               err_msg=f"{where}scales must be mean |W| of each group's own elements")


@pytest.mark.prompt("What is known, ternary weight format: groups of 128, codes times one scale")
@pytest.mark.smoke
def test_projection_shapes_and_layer_consistency(solution, not_offered, inputs):
    not_offered("ternary_project")
    not_offered("make_ternary_linear")
    rng = np.random.default_rng(0)
    inputs("seed=0 W (4, 256) float64, group_size=128; x (3, 256)")
    W = rng.standard_normal((4, 256))
    codes, scales = solution.ternary_project(W, group_size=G)
    codes, scales = np.asarray(codes), np.asarray(scales)
    assert codes.shape == (4, 256), f"codes shape {codes.shape}"
    assert np.array_equal(codes, np.round(codes)), "codes must be whole numbers (-1, 0, +1)"
    assert scales.shape == (4, 2), f"scales shape {scales.shape}, expected (4, 2)"
    eff = codes.astype(np.float64) * np.repeat(scales, G, axis=-1)
    layer = solution.make_ternary_linear(W, group_size=G)
    x = rng.standard_normal((3, 256))
    y = np.asarray(layer.forward(x))
    np.testing.assert_allclose(y, x @ eff.T, rtol=1e-5, atol=1e-9,  # float32 accuracy, as for dx
                               err_msg="forward(x) must equal x @ (codes * scales).T")


@pytest.mark.prompt("Evaluation criterion 1: projected weights in {-1, 0, +1}")
@pytest.mark.trap("codes_not_clipped")
def test_codes_clipped_to_ternary(solution, not_offered, inputs):
    not_offered("ternary_project")
    rng = np.random.default_rng(1)
    inputs("seed=1 W (6, 256) with outliers 5..40x the typical magnitude, group_size=128")
    W = rng.standard_normal((6, 256))
    W[np.arange(6), rng.integers(0, 256, 6)] *= np.array([5, 10, 20, 40, -15, -30])
    W[:, :8] *= 4.0  # many entries with |W / s| > 1.5: round alone gives +-2 or more
    codes, scales = solution.ternary_project(W, group_size=G)
    check_codes(codes, W, G)


@pytest.mark.prompt("Ternary weight format: s = mean(|W_group|) per group of 128")
@pytest.mark.trap("per_tensor_scale")
def test_scale_is_per_group_mean_abs(solution, not_offered, inputs):
    not_offered("ternary_project")
    rng = np.random.default_rng(2)
    inputs("seed=2 W (5, 512), rows x 10**k and groups x (1, 3, 0.2, 7), group_size=128")
    W = rng.standard_normal((5, 512))
    W *= (10.0 ** np.arange(-2, 3))[:, None]
    W *= np.repeat(np.array([1.0, 3.0, 0.2, 7.0]), G)[None, :]
    codes, scales = solution.ternary_project(W, group_size=G)
    check_scales(scales, W, G)
    check_codes(codes, W, G)


@pytest.mark.beyond("every dimension in the study's task is a multiple of 128; a shorter last group is llmbench's")
@pytest.mark.parametrize("shape,g", [((3, 200), 128), ((2, 64), 128), ((4, 300), 128),
                                     ((2, 3, 130), 128), ((5, 100), 64), ((1, 129), 128)])
def test_remainder_group(solution, not_offered, inputs, shape, g):
    not_offered("ternary_project")
    rng = np.random.default_rng(3)
    inputs(f"seed=3 W {shape} lognormal magnitudes, group_size={g}")
    W = rng.standard_normal(shape) * np.exp(rng.standard_normal(shape))
    try:
        codes, scales = solution.ternary_project(W, group_size=g)
    except Exception as exc:  # noqa: BLE001 - a rejection is this trap, say so
        pytest.fail(f"ternary_project rejected a last axis of {shape[-1]} with group_size={g} ({exc}); "
                    "the spec asks for a shorter remainder group with its own scale")
    check_scales(scales, W, g, where=f"{shape}, g={g}: ")
    check_codes(codes, W, g, where=f"{shape}, g={g}: ")


@pytest.mark.beyond("every dimension in the study's task is a multiple of 128; a shorter last group is llmbench's")
def test_remainder_group_in_linear_layer(solution, not_offered, inputs):
    not_offered("make_ternary_linear")
    rng = np.random.default_rng(4)
    inputs("seed=4 W (6, 176) (out, in), group_size=128, x (2, 5, 176)")
    W = rng.standard_normal((6, 176)) * np.r_[np.ones(128), 9 * np.ones(48)]
    layer = solution.make_ternary_linear(W, group_size=G)
    x = rng.standard_normal((2, 5, 176))
    codes, _, per_elem, _ = expected_projection(W, G)
    np.testing.assert_allclose(np.asarray(layer.forward(x)), x @ (codes * per_elem).T, rtol=1e-6, atol=1e-9,
                               err_msg="forward must use per-row groups [0:128] and [128:176]")


def _layer_case(solution, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((5, 256)) * np.repeat([0.5, 2.0], G)
    W[0, :10] *= 6.0  # clipped entries: STE still passes their gradient
    x = rng.standard_normal((2, 7, 256))
    dy = rng.standard_normal((2, 7, 5))
    layer = solution.make_ternary_linear(W, group_size=G)
    layer.forward(x)
    dx, dW = layer.backward(dy)
    codes, _, per_elem, _ = expected_projection(W, G)
    return W, x, dy, codes * per_elem, np.asarray(dx), np.asarray(dW)


@pytest.mark.prompt("Training procedure: STE, dL/dW_latent = dL/dW_ternary")
@pytest.mark.trap("ste_missing")
def test_ste_passes_gradient_through_rounding(solution, not_offered, inputs):
    not_offered("make_ternary_linear")
    inputs("seed=5 W (5, 256), x (2, 7, 256), dy (2, 7, 5), group_size=128")
    W, x, dy, W_eff, dx, dW = _layer_case(solution, 5)
    dense = dy.reshape(-1, 5).T @ x.reshape(-1, 256)
    assert dW.shape == W.shape, f"dW_latent shape {dW.shape}, expected {W.shape}"
    zero_code = np.isclose(W_eff, 0)
    assert np.abs(dW[zero_code]).max() > 0, "no gradient reaches latent weights whose code is 0"
    np.testing.assert_allclose(dW, dense, rtol=1e-6, atol=1e-9,
                               err_msg="straight-through: dW_latent must equal dy^T x, the dense gradient "
                                       "w.r.t. the projected weight")


@pytest.mark.prompt("Training procedure: the scale factor is treated as constant")
@pytest.mark.trap("ste_through_scale")
def test_scale_is_not_differentiated(solution, not_offered, inputs):
    not_offered("make_ternary_linear")
    inputs("seed=6 W (5, 256), x (2, 7, 256), dy (2, 7, 5), group_size=128")
    W, x, dy, W_eff, dx, dW = _layer_case(solution, 6)
    dense = dy.reshape(-1, 5).T @ x.reshape(-1, 256)
    assert dW.shape == W.shape, f"dW_latent shape {dW.shape}, expected {W.shape}"
    # The d s / d W path would add sign(W) * sum(dW_eff * codes) / n to every group.
    worst = float(np.abs(dW - dense).max())
    limit = 1e-6 * float(np.abs(dense).max()) + 1e-9
    assert worst <= limit, (f"dW_latent differs from the dense gradient dy^T x by up to {worst:.3g}: "
                            "the scale mean(|W|) must be treated as a constant")


@pytest.mark.prompt("Training procedure: the forward uses the ternary weights")
def test_backward_dx_uses_projected_weight(solution, not_offered, inputs):
    not_offered("make_ternary_linear")
    inputs("seed=7 W (5, 256), x (2, 7, 256), dy (2, 7, 5), group_size=128")
    W, x, dy, W_eff, dx, dW = _layer_case(solution, 7)
    # rtol 1e-5: float32 accuracy (the study's solutions are MLX, float32 by default)
    np.testing.assert_allclose(dx, dy @ W_eff, rtol=1e-5, atol=1e-9, err_msg="dx must be dy @ W_eff")


@pytest.mark.prompt("Ternary weight format (groups of 128) and training procedure (STE, constant scale)")
def test_seeds_and_distributions(solution, not_offered, inputs, seeds):
    """Public seeds plus the build's secret seed; W (7, 384): an odd number of output rows, three
    groups of 128 (the prompt's groups are whole: remainder groups are tested beyond it); two
    weight distributions: standard normal, and heavy-tailed (Student t, 2 degrees of freedom,
    offset by 0.3) whose outliers set the group means."""
    not_offered("ternary_project")
    not_offered("make_ternary_linear")
    inputs(f"seeds {', '.join(map(str, seeds))}; W (7, 384), x (3, 5, 384), dy (3, 5, 7), group_size=128; "
           "W standard normal, then Student t (2 dof) + 0.3")
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for label, W in (("normal", rng.standard_normal((7, 384))),
                         ("heavy-tailed", rng.standard_t(2, (7, 384)) + 0.3)):
            where = f"seed {seed}, {label}: "
            codes, scales = solution.ternary_project(W, group_size=G)
            check_codes(codes, W, G, where)
            check_scales(scales, W, G, where)
            x, dy = rng.standard_normal((3, 5, 384)), rng.standard_normal((3, 5, 7))
            layer = solution.make_ternary_linear(W, group_size=G)
            exp_codes, _, per_elem, _ = expected_projection(W, G)
            W_eff = exp_codes * per_elem
            y, dx_want, dW_want = x @ W_eff.T, dy @ W_eff, dy.reshape(-1, 7).T @ x.reshape(-1, 384)
            # float32 accuracy relative to each array's largest value: an entry that cancels to
            # near 0 carries float32 rounding of the terms it sums (the study's solutions are MLX).
            close(np.asarray(layer.forward(x)), y, f"{where}forward(x) must equal x @ (codes * scales).T")
            dx, dW = layer.backward(dy)
            close(np.asarray(dx), dx_want, f"{where}dx must be dy @ W_eff")
            close(np.asarray(dW), dW_want, f"{where}dW_latent must be dy^T x (straight-through)")


def close(got, want, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()), err_msg=what)


@pytest.mark.beyond("an all-zero group makes s = 0: behaviour the prompt leaves open")
def test_zero_group_has_zero_codes(solution, not_offered, inputs):
    not_offered("ternary_project")
    inputs("W (2, 256) with row 0 all zeros and W[1, 128:] zero, group_size=128")
    W = np.zeros((2, 256))
    W[1, :128] = np.linspace(-1, 1, 128)
    codes, scales = solution.ternary_project(W, group_size=G)
    codes, scales = np.asarray(codes), np.asarray(scales, dtype=np.float64)
    assert np.isfinite(scales).all(), "an all-zero group must not give NaN/inf scales"
    assert (codes[0] == 0).all() and (codes[1, 128:] == 0).all(), "an all-zero group must have zero codes"
    check_codes(codes, W, G)


@pytest.mark.beyond("rejecting a bad group_size is llmbench's API")
def test_invalid_group_size_rejected(solution, not_offered, inputs):
    not_offered("ternary_project")
    inputs("W (2, 256), group_size=0 and -4")
    W = np.ones((2, 256))
    for g in (0, -4):
        with pytest.raises(SolutionError):
            solution.ternary_project(W, group_size=g)
