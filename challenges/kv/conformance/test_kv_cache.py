"""Conformance suite for the KV-cache.

The cache is the solution's own object; it comes back as a RemoteHandle and every
method call runs in the worker. Outputs are compared with float64 attention computed
from scratch here (kv_oracle), or with the solution's own outputs for the same
sequence in a simpler setting when a test must isolate one trap from the others.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the trusted oracle beside this file
from kv_oracle import drive, huge_padding, max_abs, random_item  # noqa: E402

TOL = 1e-5        # against float64 attention (float32 storage passes comfortably)
SAME = 1e-9       # the solution against itself on the same data


def assert_near(name, got, want, tol):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    assert np.all(np.isfinite(got)), f"{name}: non-finite values"
    err = max_abs(got, want)
    assert err <= tol * max(1.0, float(np.max(np.abs(want)))), f"{name}: max abs error {err:.3g}"
    return err


@pytest.mark.smoke
def test_api_shapes_and_lengths(solution, inputs):
    inputs("B=2 H=2 D=4 max_len=8, prompt lengths [3, 3], one decode step")
    rng = np.random.default_rng(0)
    cache = solution.make_kv_cache(2, 2, 4, 8)
    q, k, v = (rng.standard_normal((2, 2, 3, 4)) for _ in range(3))
    out = np.asarray(cache.prefill(q, k, v, np.array([3, 3])))
    assert out.shape == (2, 2, 3, 4)
    assert list(np.asarray(cache.lengths())) == [3, 3]
    step = [rng.standard_normal((2, 2, 1, 4)) for _ in range(3)]
    assert np.asarray(cache.decode(*step)).shape == (2, 2, 1, 4)
    assert list(np.asarray(cache.lengths())) == [4, 4]
    assert int(cache.memory_bytes()) > 0


def test_end_to_end_matches_full_attention(solution, record_metric, inputs):
    # The whole contract at once: ragged batch with huge padding, prefill, 20 decode steps,
    # every output equal to causal attention recomputed from scratch per item.
    inputs("seed=1 B=3 H=4 D=16 prompts [5, 1, 9] padded to 11 with huge k/v, 20 steps, max_len 48")
    rng = np.random.default_rng(1)
    items = [random_item(rng, 4, 16, p, 20) for p in (5, 1, 9)]
    run = drive(solution, items, 48, width=11, pad=huge_padding(rng, (3, 4, 11, 16)))
    worst = 0.0
    for b, it in enumerate(items):
        want = it.expected()
        worst = max(worst, assert_near(f"item {b} prefill", run.prefill[b], want[:, :it.prompt], TOL))
        worst = max(worst, assert_near(f"item {b} decode", run.decode[b], want[:, it.prompt:], TOL))
    record_metric("max_abs_error", worst)


def test_cache_growth(solution, inputs):
    # lengths() advances by one per decode step for every item; memory_bytes() never shrinks
    # and covers at least the float32 bytes of the stored keys and values.
    inputs("seed=2 B=3 H=2 D=8 prompts [2, 6, 4], 10 steps, max_len 32")
    rng = np.random.default_rng(2)
    h, d = 2, 8
    cache = solution.make_kv_cache(3, h, d, 32)
    lengths = np.array([2, 6, 4])
    q, k, v = (rng.standard_normal((3, h, 6, d)) for _ in range(3))
    cache.prefill(q, k, v, lengths)
    last = 0
    for step in range(11):
        got = np.asarray(cache.lengths())
        assert list(got) == list(lengths + step), f"after {step} decode steps lengths() = {got}"
        mem = int(cache.memory_bytes())
        need = 2 * h * d * 4 * int(got.sum())
        assert mem >= need, f"memory_bytes() = {mem} < {need} needed for {int(got.sum())} tokens"
        assert mem >= last, f"memory_bytes() shrank from {last} to {mem}"
        last = mem
        if step < 10:
            cache.decode(*(rng.standard_normal((3, h, 1, d)) for _ in range(3)))


# --- decode_mismatch --------------------------------------------------------------------

@pytest.mark.trap("decode_mismatch")
@pytest.mark.parametrize("heads,dim,scale", [(4, 16, 1.0), (2, 64, 30.0)])
def test_decode_matches_full_attention(solution, inputs, heads, dim, scale):
    # One item, no prefill, no padding: 24 tokens fed through decode alone. Output t must
    # equal row t of full causal attention over the whole sequence. scale=30 gives logits
    # in the hundreds, where a softmax without max subtraction overflows.
    inputs(f"seed=3 B=1 H={heads} D={dim} q,k scaled by {scale}, 24 decode steps from an empty cache")
    rng = np.random.default_rng(3)
    item = random_item(rng, heads, dim, 0, 24, scale=scale)
    run = drive(solution, [item], 32)
    assert_near("decode outputs", run.decode[0], item.expected(), TOL)


# --- padding_leak -----------------------------------------------------------------------

@pytest.mark.trap("padding_leak")
def test_padding_does_not_leak(solution, inputs):
    # Ragged batch (prompts 2, 9, 4, 12 padded to 14), 3 decode steps. (a) The shortest item
    # must give the same outputs in this batch as alone without padding. (b) Every item's
    # outputs must not change when the padding content changes (slots each item will
    # overwrite while decoding keep the same content, so only padding proper differs).
    inputs("seed=4 B=4 H=3 D=8 prompts [2, 9, 4, 12] width 14, huge padding vs other huge padding, 3 steps")
    rng = np.random.default_rng(4)
    prompts, steps, width = (2, 9, 4, 12), 3, 14
    items = [random_item(rng, 3, 8, p, steps) for p in prompts]
    pad_a = huge_padding(rng, (4, 3, width, 8))
    pad_b = huge_padding(rng, (4, 3, width, 8))
    for b, p in enumerate(prompts):
        for a_arr, b_arr in zip(pad_a, pad_b):
            b_arr[b, :, p:p + steps] = a_arr[b, :, p:p + steps]
    run_a = drive(solution, items, 24, width=width, pad=pad_a)
    run_b = drive(solution, items, 24, width=width, pad=pad_b)
    solo = drive(solution, items[:1], 24)
    assert_near("shortest item: prefill in padded batch vs alone", run_a.prefill[0], solo.prefill[0], SAME)
    assert_near("shortest item: decode in padded batch vs alone", run_a.decode[0], solo.decode[0], SAME)
    for b in range(len(items)):
        assert_near(f"item {b} prefill under other padding", run_b.prefill[b], run_a.prefill[b], SAME)
        assert_near(f"item {b} decode under other padding", run_b.decode[b], run_a.decode[b], SAME)


# --- shared_batch_cache -----------------------------------------------------------------

@pytest.mark.trap("shared_batch_cache")
def test_batch_items_isolated(solution, inputs):
    # Equal prompt lengths (no padding), 6 decode steps. Each item's outputs in the batch
    # must equal its outputs when run alone, and item 0 must not change when the other
    # items' data changes.
    inputs("seed=5 B=3 H=2 D=8 prompts [4, 4, 4], 6 steps; items alone; items 1, 2 replaced")
    rng = np.random.default_rng(5)
    items = [random_item(rng, 2, 8, 4, 6) for _ in range(3)]
    batch = drive(solution, items, 16)
    for b, it in enumerate(items):
        alone = drive(solution, [it], 16)
        assert_near(f"item {b} prefill: batch vs alone", batch.prefill[b], alone.prefill[0], SAME)
        assert_near(f"item {b} decode: batch vs alone", batch.decode[b], alone.decode[0], SAME)
    others = [items[0]] + [random_item(rng, 2, 8, 4, 6) for _ in range(2)]
    swapped = drive(solution, others, 16)
    assert_near("item 0 decode with other neighbours", swapped.decode[0], batch.decode[0], SAME)


@pytest.mark.trap("shared_batch_cache")
def test_separate_caches_independent(solution, inputs):
    # Two caches used alternately must each behave as if alone (no shared class-level state).
    inputs("seed=6 two caches B=2 H=2 D=8 prompts [3, 3], 5 interleaved decode steps")
    rng = np.random.default_rng(6)
    seqs = [[random_item(rng, 2, 8, 3, 5) for _ in range(2)] for _ in range(2)]
    alone = [drive(solution, s, 12).decode for s in seqs]
    caches = [solution.make_kv_cache(2, 2, 8, 12) for _ in seqs]
    for c, s in zip(caches, seqs):
        q, k, v = (np.stack([getattr(it, n)[:, :3] for it in s]) for n in ("q", "k", "v"))
        c.prefill(q, k, v, np.array([3, 3]))
    outs = [[], []]
    for step in range(5):
        for i, (c, s) in enumerate(zip(caches, seqs)):
            args = [np.stack([getattr(it, n)[:, 3 + step] for it in s])[:, :, None] for n in ("q", "k", "v")]
            outs[i].append(np.asarray(c.decode(*args), dtype=np.float64)[:, :, 0])
    for i in range(2):
        for b in range(2):
            got = np.stack([o[b] for o in outs[i]], axis=1)
            assert_near(f"cache {i} item {b} interleaved vs alone", got, alone[i][b], SAME)


# --- causal_mask ------------------------------------------------------------------------

@pytest.mark.trap("causal_mask")
def test_prefill_is_causal(solution, inputs):
    # Prefill output row t attends to keys 0..t exactly: compared with full causal attention,
    # and row t must not move when tokens after t change while it must move when token t does.
    inputs("seed=7 B=2 H=3 D=8 prompts [10, 10]; then token 6 replaced")
    rng = np.random.default_rng(7)
    items = [random_item(rng, 3, 8, 10, 0) for _ in range(2)]
    run = drive(solution, items, 16)
    for b, it in enumerate(items):
        assert_near(f"item {b} prefill vs causal attention", run.prefill[b], it.expected(), TOL)
    changed = [random_item(rng, 3, 8, 10, 0) for _ in range(2)]
    for it, new in zip(items, changed):
        for name in ("q", "k", "v"):
            getattr(new, name)[:, :6] = getattr(it, name)[:, :6]
    run2 = drive(solution, changed, 16)
    for b in range(2):
        moved = np.abs(run2.prefill[b] - run.prefill[b]).max(axis=(0, 2))   # per row
        assert np.all(moved[:6] <= SAME), f"item {b}: rows {np.flatnonzero(moved[:6] > SAME)} saw later tokens"
        assert np.all(moved[6:] > 1e-6), f"item {b}: rows {6 + np.flatnonzero(moved[6:] <= 1e-6)} ignore their own token"


# --- prefill_not_stored -----------------------------------------------------------------

@pytest.mark.trap("prefill_not_stored")
def test_prefill_fills_the_cache(solution, inputs):
    # After prefill of 7 tokens, decoding 5 more must give what the solution gives when all
    # 12 tokens go through decode one by one: prefill has to leave the prompt's keys and
    # values in the cache. lengths() must report the prompt lengths right after prefill.
    inputs("seed=8 B=1 H=3 D=8 prompt 7 + 5 steps vs 12 decode steps; ragged lengths [3, 7, 5]")
    rng = np.random.default_rng(8)
    item = random_item(rng, 3, 8, 7, 5)
    after_prefill = drive(solution, [item], 16)
    one_by_one = drive(solution, [type(item)(item.q, item.k, item.v, 0)], 16)
    assert_near("decode after prefill vs decode-only", after_prefill.decode[0], one_by_one.decode[0][:, 7:], SAME)
    cache = solution.make_kv_cache(3, 2, 4, 10)
    q, k, v = (rng.standard_normal((3, 2, 7, 4)) for _ in range(3))
    cache.prefill(q, k, v, np.array([3, 7, 5]))
    got = np.asarray(cache.lengths())
    assert list(got) == [3, 7, 5], f"lengths() after prefill = {got}, expected [3, 7, 5]"


# --- performance figures (no verdict) ---------------------------------------------------

def test_decode_cost(solution, record_metric, inputs):
    inputs("seed=9 B=4 H=8 D=64 max_len 1024, prompts [32, 64, 128, 256] padded to 256, 16 decode steps")
    rng = np.random.default_rng(9)
    b, h, d, width = 4, 8, 64, 256
    cache = solution.make_kv_cache(b, h, d, 1024)
    q, k, v = (rng.standard_normal((b, h, width, d)) for _ in range(3))
    pre = cache.call_method("prefill", q, k, v, np.array([32, 64, 128, 256]), measure_memory=False)
    record_metric("prefill_seconds", pre.seconds)
    times = []
    for step in range(16):
        args = [rng.standard_normal((b, h, 1, d)) for _ in range(3)]
        res = cache.call_method("decode", *args, measure_memory=(step == 15))
        assert np.all(np.isfinite(np.asarray(res.value)))
        times.append(res.seconds)
    record_metric("decode_step_seconds", float(np.median(times[:15])))
    record_metric("decode_step_peak_bytes", float(res.peak_bytes))
    tokens = int(np.asarray(cache.lengths()).sum())
    record_metric("kv_bytes_per_token", int(cache.memory_bytes()) / tokens)
