"""Conformance suite for the KV-cache: the solution's own model, driven through its own cache.

The study's prompt gives no API, so the suite checks what any correct KV-cache guarantees,
on the solution's own model and weights (built by `make_kv_model`, usually through an
adapter): cached incremental decoding equals the same model's full forward pass; an item of
a variable-length batch equals the same sequence alone; the cache grows by one position per
decode step and keeps what prefill stored. The model lives in the worker; only token ids go
in and outputs come back (see kv_oracle).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from llmbench.conformance.scale import note_comparison

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the trusted drivers beside this file
from kv_oracle import NoRows, drive, full_forward, full_forward_last, prefill_rows, rel_err  # noqa: E402

TOL = 1e-4    # against the same model's full forward pass (float32 models pass comfortably)
SAME = 1e-5   # the model against itself on the same tokens in another batch or padding


def vocab(solution) -> int:
    return int(solution.make_kv_model(1, 4).attr("vocab_size"))


def near(name, got, want, tol):
    # rel_err divides by max(1, max |want|): below 1 the bound is absolute (scale sanity).
    note_comparison(want, rtol=tol, floor=1.0)
    err = rel_err(got, want)
    assert err <= tol, f"{name}: relative error {err:.3g} (limit {tol:g})"
    return err


_CAUSAL: dict[int, tuple] = {}


def prefill_causality(solution):
    """(True/False/None, note): whether prefill output row t ignores tokens after t.
    None when the model returns no per-position prefill output."""
    key = id(solution)
    if key not in _CAUSAL:
        rng = np.random.default_rng(7)
        v = vocab(solution)
        a = rng.integers(0, v, (2, 10))
        b = a.copy()
        b[:, 6:] = (a[:, 6:] + 1 + rng.integers(0, v - 1, (2, 4))) % v
        lens = np.array([10, 10])
        rows = [prefill_rows(solution.make_kv_model(2, 16).prefill(x, lens), lens, 10) for x in (a, b)]
        if rows[0] is None or rows[0][0].shape[0] != 10:
            _CAUSAL[key] = (None, "the model's prefill returns only the last position (or nothing)")
        else:
            note = ""
            for i in range(2):
                moved = np.abs(rows[1][i] - rows[0][i]).max(axis=-1) / max(1.0, float(np.abs(rows[0][i]).max()))
                early = np.flatnonzero(moved[:6] > SAME)
                if early.size:
                    note = f"item {i}: prefill rows {list(early)} changed when only tokens 6..9 did"
                    break
            _CAUSAL[key] = (not note, note)
    return _CAUSAL[key]


@pytest.mark.smoke
def test_api_shapes_and_lengths(solution, inputs):
    inputs("make_kv_model(2, 8); prompts of 3 tokens; one decode step")
    v = vocab(solution)
    assert v >= 2, f"vocab_size {v}"
    run = drive(solution, [[1, 0, 1], [0, 1, 1]], [[1], [0]], 8)
    assert run.lengths == [[3, 3], [4, 4]], f"cache_lengths() after prefill, then one step: {run.lengths}"
    assert run.decode[0].shape[0] == 1


def test_cached_decoding_equals_full_forward(solution, record_metric, inputs, seeds):
    # The whole contract on one sequence: prefill 7 tokens, decode 9 more; every decode output
    # must equal the last position of the same model's full forward pass over that prefix.
    # The metric is seed 1's; the public seeds and the build's secret seed follow.
    for seed in (1, *seeds):
        inputs(f"seed={seed} one sequence of 16 tokens: prefill 7, decode 9; full forward = fresh model, "
               "one prefill of the prefix")
        rng = np.random.default_rng(seed)
        seq = rng.integers(0, vocab(solution), 16)
        run = drive(solution, [seq[:7]], [seq[7:]], 32)
        try:
            want = np.stack([full_forward_last(solution, seq[: p + 1], 32) for p in range(7, 16)])
        except NoRows as exc:
            pytest.skip(str(exc))
        if seed == 1:
            record_metric("max_rel_error", rel_err(run.decode[0], want))
        near(f"seed {seed}: decode after prefill vs full forward", run.decode[0], want, TOL)


def test_cache_grows_by_one_position_per_step(solution, not_offered, inputs, seeds):
    not_offered("ragged_prefill")
    v = vocab(solution)
    for seed in (2, *seeds):
        inputs(f"seed={seed} B=3 prompts of 2, 6, 4 tokens; 10 decode steps; cache_lengths() after each")
        rng = np.random.default_rng(seed)
        prompts = [rng.integers(0, v, n) for n in (2, 6, 4)]
        run = drive(solution, prompts, rng.integers(0, v, (3, 10)), 32)
        want = [[2 + s, 6 + s, 4 + s] for s in range(11)]   # prompt lengths right after prefill, then +1 per step
        assert run.lengths == want, f"seed {seed}: cache_lengths() over the run: {run.lengths}, expected {want}"


def test_seeds_and_distributions(solution, inputs, seeds):
    # Public seeds plus the build's secret seed; two items with 13-token prompts decoded across
    # the 16th position (lengths 13..17 and max_len 37: no multiple of a power-of-two page or
    # block), and two token distributions: uniform over the vocabulary, and repetitive text
    # (three distinct tokens, so many keys coincide). Every decode output must equal the same
    # model's full forward pass over that item's prefix.
    inputs(f"seeds {', '.join(map(str, seeds))}; B=2 prompts of 13 tokens, 4 decode steps, max_len 37; "
           "tokens uniform over the vocabulary, then drawn from 3 distinct ids")
    v = vocab(solution)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for label, pool in (("uniform", None), ("repetitive", rng.choice(v, size=min(3, v), replace=False))):
            seqs = rng.integers(0, v, (2, 17)) if pool is None else rng.choice(pool, (2, 17))
            run = drive(solution, list(seqs[:, :13]), seqs[:, 13:], 37)
            for b in range(2):
                try:
                    want = np.stack([full_forward_last(solution, seqs[b, : p + 1], 37) for p in range(13, 17)])
                except NoRows as exc:
                    pytest.skip(str(exc))
                near(f"seed {seed}, {label}, item {b}: decode vs full forward", run.decode[b], want, TOL)


# --- decode_mismatch --------------------------------------------------------------------

@pytest.mark.trap("decode_mismatch")
def test_decode_matches_full_forward(solution, inputs, record_metric):
    # One sequence fed through decode alone (from an empty cache, or after a one-token prefill
    # where the model cannot start empty): output t must equal the last position of the same
    # model's full forward pass over tokens 0..t.
    inputs("seed=3 one sequence of 20 tokens decoded one by one; full forward of every prefix")
    rng = np.random.default_rng(3)
    seq = rng.integers(0, vocab(solution), 20)
    try:
        run, first = drive(solution, [[]], [seq], 32, empty_start=True), 0
    except Exception:  # noqa: BLE001 - decoding on an empty cache is not required by the study
        run, first = drive(solution, [seq[:1]], [seq[1:]], 32), 1
    try:
        want = np.stack([full_forward_last(solution, seq[: p + 1], 32) for p in range(first, 20)])
    except NoRows as exc:
        pytest.skip(str(exc))
    record_metric("max_rel_error_decode_only", rel_err(run.decode[0], want))
    near("decode-only outputs vs full forward", run.decode[0], want, TOL)


# --- padding_leak -----------------------------------------------------------------------

@pytest.mark.trap("padding_leak")
def test_padding_does_not_leak(solution, not_offered, inputs):
    # Ragged batch (prompts 2, 9, 4, 12 right-padded to the longest), 3 decode steps. (a) The shortest
    # item must give the same outputs in this batch as alone. (b) No item's outputs may change
    # when the padding tokens change (slots each item overwrites while decoding keep the same
    # tokens, so only padding proper differs). A prefill whose rows see later tokens fails
    # the causal_mask test; its last prompt row is then left out here.
    inputs("seed=4 B=4 prompts [2, 9, 4, 12] right-padded to 12, random padding vs other random padding, 3 steps")
    not_offered("ragged_prefill")
    rng = np.random.default_rng(4)
    v = vocab(solution)
    lens, width, steps = (2, 9, 4, 12), 12, 3
    prompts = [rng.integers(0, v, n) for n in lens]
    nxt = rng.integers(0, v, (4, steps))
    pad_a = rng.integers(0, v, (4, width))
    pad_b = (pad_a + 1 + rng.integers(0, v - 1, (4, width))) % v
    for b, n in enumerate(lens):
        pad_b[b, n:n + steps] = pad_a[b, n:n + steps]
    run_a = drive(solution, prompts, nxt, 24, width=width, pad=pad_a)
    run_b = drive(solution, prompts, nxt, 24, width=width, pad=pad_b)
    solo = drive(solution, prompts[:1], nxt[:1], 24)
    causal, _ = prefill_causality(solution)
    keep = slice(None) if causal is not False else slice(0, -1)

    def rows(run, b):
        return None if run.prefill[b] is None else run.prefill[b][keep]

    if rows(run_a, 0) is not None and rows(solo, 0) is not None and rows(solo, 0).size:
        near("shortest item: prefill in padded batch vs alone", rows(run_a, 0), rows(solo, 0), SAME)
    near("shortest item: decode in padded batch vs alone", run_a.decode[0], solo.decode[0], SAME)
    for b in range(4):
        if rows(run_a, b) is not None and rows(run_a, b).size:
            near(f"item {b} prefill under other padding", rows(run_b, b), rows(run_a, b), SAME)
        near(f"item {b} decode under other padding", run_b.decode[b], run_a.decode[b], SAME)


# --- shared_batch_cache -----------------------------------------------------------------

@pytest.mark.trap("shared_batch_cache")
def test_batch_items_isolated(solution, inputs):
    # Equal prompt lengths (no padding), 6 decode steps. Each item's outputs in the batch must
    # equal its outputs alone, and item 0 must not change when the other items change.
    inputs("seed=5 B=3 prompts of 4 tokens, 6 steps; items alone; items 1, 2 replaced")
    rng = np.random.default_rng(5)
    v = vocab(solution)
    prompts, nxt = rng.integers(0, v, (3, 4)), rng.integers(0, v, (3, 6))
    batch = drive(solution, list(prompts), nxt, 16)
    for b in range(3):
        alone = drive(solution, [prompts[b]], nxt[b:b + 1], 16)
        if batch.prefill[b] is not None:
            near(f"item {b} prefill: batch vs alone", batch.prefill[b], alone.prefill[0], SAME)
        near(f"item {b} decode: batch vs alone", batch.decode[b], alone.decode[0], SAME)
    others_p, others_n = prompts.copy(), nxt.copy()
    others_p[1:] = rng.integers(0, v, (2, 4))
    others_n[1:] = rng.integers(0, v, (2, 6))
    swapped = drive(solution, list(others_p), others_n, 16)
    near("item 0 decode with other neighbours", swapped.decode[0], batch.decode[0], SAME)


@pytest.mark.trap("shared_batch_cache")
def test_separate_models_independent(solution, inputs):
    # Two models (two caches) used alternately must each behave as if alone.
    inputs("seed=6 two models B=2, prompts of 3 tokens, 5 interleaved decode steps")
    rng = np.random.default_rng(6)
    v = vocab(solution)
    prompts, nxt = rng.integers(0, v, (2, 2, 3)), rng.integers(0, v, (2, 2, 5))
    alone = [drive(solution, list(prompts[i]), nxt[i], 12).decode for i in range(2)]
    models = [solution.make_kv_model(2, 12) for _ in range(2)]
    for m, p in zip(models, prompts):
        m.prefill(p, np.array([3, 3]))
    outs = [[], []]
    for step in range(5):
        for i, m in enumerate(models):
            outs[i].append(np.asarray(m.decode(nxt[i][:, step]), dtype=np.float64))
    for i in range(2):
        for b in range(2):
            got = np.stack([o[b] for o in outs[i]])
            near(f"model {i} item {b} interleaved vs alone", got, alone[i][b], SAME)


# --- causal_mask ------------------------------------------------------------------------

@pytest.mark.trap("causal_mask")
def test_prefill_is_causal(solution, inputs):
    # Prefill output row t must not move when tokens after t change; and every row must equal
    # the last position of the full forward pass over tokens 0..t.
    inputs("seed=7 B=2 prompts of 10 tokens; then tokens 6..9 replaced")
    causal, note = prefill_causality(solution)
    if causal is None:
        pytest.skip(note)
    assert causal, note
    rng = np.random.default_rng(8)
    seq = rng.integers(0, vocab(solution), 10)
    rows = full_forward(solution, seq, 16)
    want = np.stack([full_forward_last(solution, seq[: t + 1], 16) for t in range(10)])
    near("prefill rows vs full forward of each prefix", rows, want, TOL)


# --- prefill_not_stored -----------------------------------------------------------------

@pytest.mark.trap("prefill_not_stored")
def test_prefill_fills_the_cache(solution, inputs):
    # After a prefill of 7 tokens, the first decode step must attend to the prompt: its output
    # must change when prompt tokens 0..5 change (token 6 and the new token stay). A prefill
    # that leaves nothing in the cache gives the same output whatever the prompt was.
    # cache_lengths() must report the prompt length right after prefill.
    inputs("seed=9 prefill 7 tokens then decode 1; again with prompt tokens 0..5 replaced")
    rng = np.random.default_rng(9)
    v = vocab(solution)
    seq = rng.integers(0, v, 8)
    other = seq.copy()
    other[:6] = (seq[:6] + 1 + rng.integers(0, v - 1, 6)) % v
    runs = [drive(solution, [s[:7]], [s[7:]], 16) for s in (seq, other)]
    assert runs[0].lengths[0] == [7], f"cache_lengths() after prefill = {runs[0].lengths[0]}, expected [7]"
    moved = rel_err(runs[1].decode[0], runs[0].decode[0])
    assert moved > 1e-6, "the first decode step after prefill gives the same output whatever the prompt was"


# --- performance figures (no verdict) ---------------------------------------------------

def test_decode_cost(solution, record_metric, inputs):
    inputs("seed=10 B=4 prompts of 64 tokens, max_len 256, 16 decode steps")
    rng = np.random.default_rng(10)
    v = vocab(solution)
    model = solution.make_kv_model(4, 256)
    pre = model.call_method("prefill", rng.integers(0, v, (4, 64)), np.array([64] * 4), measure_memory=False)
    record_metric("prefill_seconds", pre.seconds)
    times = []
    for step in range(16):
        res = model.call_method("decode", rng.integers(0, v, 4), measure_memory=(step == 15))
        assert np.all(np.isfinite(np.asarray(res.value, dtype=np.float64)))
        times.append(res.seconds)
    record_metric("decode_step_seconds", float(np.median(times[:15])))
    record_metric("decode_step_peak_bytes", float(res.peak_bytes))
