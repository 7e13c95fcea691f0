"""The reference's own tests: projection, STE, and the hand-written backward of the model
checked against central finite differences (dense float64 variant, tiny sizes)."""
import numpy as np
import pytest

from model import TernaryLM
from ternary import TernaryLinear, project_weight, ternary_project
from train import DEFAULTS, eval_nll, train

TINY = {**DEFAULTS, "vocab_size": 11, "d_model": 8, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
        "head_dim": 4, "d_ff": 12, "seq_len": 5, "group_size": 8}


def test_projection_codes_and_remainder_scales():
    W = np.array([[0.1, -3.0, 0.0, 1.0, 0.5]])
    codes, scales = ternary_project(W, group_size=3)
    np.testing.assert_allclose(scales, [[3.1 / 3, 0.75]])
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, [[0, -1, 0, 1, 1]])


def test_ste_gradient_is_dense_gradient_of_projected_weight():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 10))
    x, dy = rng.standard_normal((4, 10)), rng.standard_normal((4, 3))
    layer = TernaryLinear(W, group_size=4)
    y = layer.forward(x)
    dx, dW = layer.backward(dy)
    W_eff = project_weight(W, 4)
    np.testing.assert_allclose(y, x @ W_eff.T)
    np.testing.assert_allclose(dx, dy @ W_eff)
    np.testing.assert_allclose(dW, dy.T @ x)


@pytest.mark.parametrize("seed", [0, 1])
def test_model_backward_matches_finite_differences(seed):
    model = TernaryLM(TINY, seed=seed, dtype=np.float64, ternary=False)
    rng = np.random.default_rng(seed + 10)
    for p in model.params().values():
        if p.ndim == 1:  # non-trivial norm gains so their gradients are exercised
            p += 0.3 * rng.standard_normal(p.shape)
    ids = rng.integers(0, 11, (2, 5))
    tgt = rng.integers(0, 11, (2, 5))
    _, grads = model.loss_and_grads(ids, tgt)
    h = 1e-6
    for name, p in model.params().items():
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            up, _ = model.loss_and_grads(ids, tgt)
            flat[i] = old - h
            down, _ = model.loss_and_grads(ids, tgt)
            flat[i] = old
            num = (up - down) / (2 * h)
            got = grads[name].reshape(-1)[i]
            assert abs(num - got) <= 1e-6 + 1e-4 * abs(num), f"{name}[{i}]: analytic {got} vs numeric {num}"


def test_tiny_training_run_learns_and_stays_ternary():
    text = np.frombuffer(b"the cat sat on the mat. " * 60, dtype=np.uint8).astype(np.int64)
    cfg = {"steps": 60, "d_model": 32, "d_ff": 48, "head_dim": 8, "seq_len": 16, "batch_size": 8,
           "group_size": 16}
    model, report = train(text[:1200], text[1200:], cfg)
    assert report["loss_curve"][-1] < report["loss_curve"][0] - 1.0
    assert all(row["ternary"] for row in report["layers"])
    assert abs(report["val_loss"] - eval_nll(model, text[1200:], 16)) < 1e-9
    assert np.isclose(report["val_perplexity"], np.exp(report["val_loss"]))
