"""Drivers for the KV-cache conformance tests (trusted side).

The suite never recomputes the solution's model: it has no access to its weights. Every
check compares the solution's model with itself, through its own cache: cached decoding
against the same model's full forward pass, a batch against each sequence alone, one
padding against another. Everything here runs in the test process; the model is reached
only through the `solution` proxy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NoRows(Exception):
    """The model's prefill returns only each item's last position (or nothing)."""


def as_float(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def prefill_rows(out, lengths, width):
    """Per item: prefill outputs of its real positions (T_b, F), or its last position (1, F).

    A model may return every position (B, T, F), each item's last real position (B, F),
    or nothing (None)."""
    if out is None:
        return None
    out = as_float(out)
    if out.ndim == 3 and out.shape[1] == width:
        return [out[b, :n] for b, n in enumerate(lengths)]
    if out.ndim == 2:
        return [out[b][None] for b in range(len(lengths))]
    raise AssertionError(f"prefill returned shape {out.shape}; expected (B, {width}, F), (B, F) or None")


def full_forward(solution, seq, max_len):
    """The model's full forward pass over `seq`: a fresh model, one prefill; its last
    position's output (F,), or every position (T, F) when the model gives them."""
    model = solution.make_kv_model(1, max_len)
    seq = np.asarray(seq, dtype=np.int64)
    rows = prefill_rows(model.prefill(seq[None], np.array([len(seq)])), [len(seq)], len(seq))
    if rows is None:
        raise NoRows("the model's prefill returns no output")
    return rows[0]


def full_forward_last(solution, seq, max_len):
    return full_forward(solution, seq, max_len)[-1]


@dataclass
class Run:
    prefill: list   # per item: (n, F) prefill outputs of its real positions (n = 1: last only); None if none
    decode: list    # per item: (steps, F) decode outputs
    lengths: list   # cache_lengths() after prefill, then after each decode step
    model: object


def drive(solution, prompts, steps, max_len, width=None, pad=None, empty_start=False):
    """Prefill the right-padded prompts (int arrays), then decode `steps` (B, steps) tokens in lockstep.

    With empty_start (all prompts empty), decoding starts on a fresh model without prefill.
    """
    b = len(prompts)
    model = solution.make_kv_model(b, max_len)
    rows, lengths = [None] * b, []
    if not empty_start:
        lens = np.array([len(p) for p in prompts], dtype=np.int64)
        width = width or int(lens.max())
        ids = np.array(pad, dtype=np.int64) if pad is not None else np.zeros((b, width), dtype=np.int64)
        for i, p in enumerate(prompts):
            ids[i, : len(p)] = p
        rows = prefill_rows(model.prefill(ids, lens), lens, width) or [None] * b
        lengths.append(list(np.asarray(model.cache_lengths())))
    steps = np.asarray(steps, dtype=np.int64).reshape(b, -1)
    outs = []
    for s in range(steps.shape[1]):
        o = as_float(model.decode(steps[:, s]))
        assert o is not None and o.ndim == 2 and o.shape[0] == b, \
            f"decode returned shape {None if o is None else o.shape}, expected (B={b}, F)"
        outs.append(o)
        lengths.append(list(np.asarray(model.cache_lengths())))
    decode = [np.stack([o[i] for o in outs]) if outs else None for i in range(b)]
    return Run(rows, decode, lengths, model)


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    if not np.all(np.isfinite(got)):
        return float("inf")
    return float(np.max(np.abs(got - want))) / max(1.0, float(np.max(np.abs(want))))
