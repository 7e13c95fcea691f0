"""Trusted oracle and inputs for the fuse suite (plain NumPy; never touches the solution).

`check` accepts any valid top-k: the tie order among equal logits is free, but the indices
must be distinct, their logits must be the k largest of the row (as a multiset) in
non-increasing order, and each probability must be the softmax over the full row.
The case builders are shared with tests/test_cuda_kind.py, which runs them through a
NumPy model of the reference kernel and its mutants.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmbench.conformance.scale import note_comparison

PROB_RTOL = 1e-4
PROB_ATOL = 1e-12


@dataclass
class Case:
    name: str
    logits: np.ndarray  # float32 (rows, vocab)
    k: int

    @property
    def label(self) -> str:
        rows, vocab = self.logits.shape
        return f"{self.name}: rows={rows} V={vocab} K={self.k}"


def softmax64(logits: np.ndarray) -> np.ndarray:
    """Row softmax in float64 over the full last axis (-inf entries get 0)."""
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def expected_topk(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, probabilities): larger logit first, lower index first among equal logits."""
    order = np.argsort(-logits.astype(np.float64), axis=-1, kind="stable")[:, :k]
    return order, np.take_along_axis(softmax64(logits), order, axis=-1)


def check(logits: np.ndarray, k: int, idx, prob) -> list[str]:
    """Problems with a solution's (idx, prob) for these logits; empty when it is right."""
    rows, vocab = logits.shape
    idx = np.asarray(idx)
    prob = np.asarray(prob)
    if idx.shape != (rows, k) or prob.shape != (rows, k):
        return [f"shapes idx {idx.shape}, prob {prob.shape}; expected ({rows}, {k}) each"]
    if not np.issubdtype(idx.dtype, np.integer):
        return [f"indices have dtype {idx.dtype}, expected integers"]
    problems: list[str] = []
    bad_range = (idx < 0) | (idx >= vocab)
    if bad_range.any():
        r, c = np.argwhere(bad_range)[0]
        problems.append(f"row {r}: index {idx[r, c]} outside [0, {vocab})")
        return problems
    srt = np.sort(idx, axis=-1)
    dup_rows = np.nonzero((srt[:, 1:] == srt[:, :-1]).any(axis=-1))[0]
    if dup_rows.size:
        r = dup_rows[0]
        dups = np.unique(srt[r][1:][srt[r][1:] == srt[r][:-1]])
        problems.append(f"{dup_rows.size} row(s) repeat an index; row {r} repeats {dups[:5].tolist()}")
    got_vals = np.take_along_axis(logits, idx.astype(np.int64), axis=-1)
    want_idx, _ = expected_topk(logits, k)
    want_vals = np.take_along_axis(logits, want_idx, axis=-1)
    unsorted = np.nonzero((got_vals[:, 1:] > got_vals[:, :-1]).any(axis=-1))[0]
    if unsorted.size:
        problems.append(f"{unsorted.size} row(s) not in non-increasing logit order (first: row {unsorted[0]})")
    wrong_set = np.nonzero((np.sort(got_vals, axis=-1) != np.sort(want_vals, axis=-1)).any(axis=-1))[0]
    if wrong_set.size:
        r = wrong_set[0]
        missing = np.setdiff1d(want_idx[r], idx[r])[:5]
        problems.append(
            f"{wrong_set.size} row(s) do not hold the {k} largest logits; row {r}: got logits "
            f"{_few(got_vals[r])}, expected {_few(want_vals[r])} (e.g. index {missing.tolist()} missing)")
    p_all = softmax64(logits)
    # Scale sanity (llmbench validate): the right answer's probabilities against this tolerance.
    note_comparison(np.take_along_axis(p_all, want_idx, axis=-1), atol=PROB_ATOL, rtol=PROB_RTOL)
    p_want = np.take_along_axis(p_all, idx.astype(np.int64), axis=-1)
    p_got = prob.astype(np.float64)
    bad_p = ~np.isfinite(p_got) | (np.abs(p_got - p_want) > PROB_ATOL + PROB_RTOL * np.abs(p_want))
    if bad_p.any():
        r, c = np.argwhere(bad_p)[0]
        rows_bad = np.unique(np.nonzero(bad_p)[0]).size
        problems.append(
            f"{rows_bad} row(s) with wrong probabilities; row {r} position {c} (index {idx[r, c]}): got "
            f"{p_got[r, c]:.6g}, softmax over the full row is {p_want[r, c]:.6g} "
            f"(row sum of returned probabilities {p_got[r].sum():.6g} vs {p_want[r].sum():.6g})")
    return problems


def _few(values: np.ndarray, n: int = 4) -> str:
    head = ", ".join(f"{v:.4g}" for v in values[:n])
    return f"[{head}{', ...' if values.size > n else ''}]"


def _randn(rng, rows, vocab, scale=1.0) -> np.ndarray:
    return (scale * rng.standard_normal((rows, vocab))).astype(np.float32)


# -- inputs per trap ------------------------------------------------------------------------

def smoke_cases() -> list[Case]:
    rng = np.random.default_rng(1)
    return [Case("random", _randn(rng, 3, 1000, 2.0), 10),
            Case("random", _randn(rng, 2, 32001, 2.0), 50)]


def row_mix_cases(max_rows: int = 4096) -> list[Case]:
    """Rows with different offsets and spikes: a merge mixing rows returns foreign logits.
    Small V (several rows per block in most kernels) and large V (many warps per row)."""
    rng = np.random.default_rng(2)
    cases = []
    for vocab, rows, k in ((1000, 37, 10), (1024, 16, 50), (2048, 9, 1), (4096, 64, 10), (32001, 6, 50),
                           (1000, max_rows, 10)):
        x = _randn(rng, rows, vocab)
        x += (3.0 * (np.arange(rows) % 7)).astype(np.float32)[:, None]
        for r in range(rows):
            spikes = rng.choice(vocab, size=min(k, 8), replace=False)
            x[r, spikes] += np.float32(6.0 + r % 5)
        cases.append(Case("row offsets and spikes", x, k))
    return cases


def rescale_cases() -> list[Case]:
    """Partial maxima far apart: ramps up and down the row and one spike, so every partial
    sum must be rescaled to the row maximum before partials are added."""
    rng = np.random.default_rng(3)
    cases = []
    for vocab, k in ((1024, 10), (32001, 50), (50257, 10), (151936, 50)):
        ramp = np.linspace(-25.0, 25.0, vocab, dtype=np.float32)
        up = _randn(rng, 1, vocab)[0] + ramp
        down = _randn(rng, 1, vocab)[0] - ramp
        spike = _randn(rng, 1, vocab, 3.0)[0]
        spike[vocab // 3] = 40.0
        steps = _randn(rng, 1, vocab)[0] + np.float32(8.0) * np.sin(np.arange(vocab) / 97.0).astype(np.float32)
        cases.append(Case("ramps and spikes", np.stack([up, down, spike, steps]).astype(np.float32), k))
    return cases


def ties_cases() -> list[Case]:
    """Many equal logits, and K larger than what one thread sees in a typical kernel
    (V 1000 and 1024 with K 50 over hundreds of threads)."""
    rng = np.random.default_rng(4)
    cases = []
    for vocab, rows, k in ((1000, 6, 50), (1024, 5, 50), (32001, 4, 50), (50257, 3, 10), (151936, 2, 50)):
        q = np.round(rng.standard_normal((rows, vocab)) * 2.0) / 2.0  # levels 0.5 apart
        cases.append(Case("logits on a 0.5 grid", q.astype(np.float32), k))
    const = np.full((3, 1000), 0.25, dtype=np.float32)
    cases.append(Case("constant rows", const, 50))
    few = np.zeros((4, 1024), dtype=np.float32)
    for r in range(4):
        few[r, rng.choice(1024, size=7, replace=False)] = 1.0  # 7 winners, then 43 tied zeros
    cases.append(Case("7 ones among zeros", few, 50))
    big_const = np.full((2, 32001), -1.5, dtype=np.float32)
    big_const[:, rng.choice(32001, size=20, replace=False)] = 2.0
    cases.append(Case("20 twos among -1.5", big_const, 50))
    return cases


def tail_cases() -> list[Case]:
    """V not a multiple of any block width; the largest logits sit in the last columns."""
    rng = np.random.default_rng(5)
    cases = []
    for vocab, k in ((1001, 10), (1023, 1), (1025, 50), (4097, 10), (32001, 50), (50257, 10), (151937, 50),
                     (37, 10), (5, 3)):
        x = _randn(rng, 3, vocab)
        last = min(k, vocab)
        x[0, vocab - last:] = 10.0 + np.arange(last, dtype=np.float32)  # the whole top k in the tail
        x[1, vocab - 1] = 12.0  # the single maximum is the last column
        x[2, vocab - 3:] = 9.0  # a tied triple at the very end
        cases.append(Case("maxima in the last columns", x, k))
    return cases


def normalise_cases() -> list[Case]:
    """Flat rows: the top k hold a small share of the mass, so normalising over the k
    selected (or over part of the row) is far off."""
    rng = np.random.default_rng(6)
    return [Case("flat rows", _randn(rng, 3, vocab, 0.5), k)
            for vocab, k in ((1000, 10), (32001, 50), (151936, 1), (50257, 50))]


def seeded_cases(seed: int) -> list[Case]:
    """One seed's draw of three input distributions, at vocabularies that are no multiple of a
    block width: standard normal (x2), logits offset by 1e4 (the prompt's magnitude for
    stability), and peaked rows (a few spikes of +20 over a flat row)."""
    rng = np.random.default_rng(seed)
    offset = _randn(rng, 3, 50257, 3.0) + np.float32(1e4)
    peaked = _randn(rng, 4, 4097, 0.5)
    for r in range(4):
        peaked[r, rng.choice(4097, size=3, replace=False)] += np.float32(20.0)
    return [Case(f"seed {seed} normal", _randn(rng, 5, 32001, 2.0), 50),
            Case(f"seed {seed} offset 1e4", offset.astype(np.float32), 10),
            Case(f"seed {seed} peaked", peaked, 20)]


def extreme_cases() -> list[Case]:
    """Huge and tiny logits, masked (-inf) entries, FLT_MAX-sized values."""
    rng = np.random.default_rng(7)
    cases = [Case("scale 1e4", _randn(rng, 3, 32001, 1e4), 10),
             Case("scale 1e-30", _randn(rng, 3, 1000, 1e-30), 10)]
    big = _randn(rng, 2, 50257)
    big[0, 123] = 3.0e38
    big[0, 50000] = -3.0e38
    big[1] = np.where(rng.random(50257) < 0.5, -3.0e38, 3.0e38).astype(np.float32)
    cases.append(Case("+-3e38", big, 10))
    masked = _randn(rng, 3, 4096)
    masked[0, :] = -np.inf
    masked[0, rng.choice(4096, size=5, replace=False)] = 1.0  # fewer finite logits than K
    masked[1, ::2] = -np.inf
    masked[2, : 4096 - 3] = -np.inf
    cases.append(Case("-inf masks", masked, 10))
    return cases
