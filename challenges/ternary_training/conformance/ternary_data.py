"""Trusted helpers of the ternary_training suite: corpus split, canaries, baselines.

The split is made here, by the harness, never by the solution: paragraphs of the bundled
corpus are shuffled with a fixed seed, 10% go to validation, and random canary strings are
planted only in the validation text. A model that never saw the validation split scores
those canaries no better than reorderings of them that appear nowhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "corpus.txt"
CANARY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CANARY_LEN = 16


def to_ids(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64)


def make_canaries(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list(CANARY_ALPHABET))
    return ["".join(rng.choice(letters, CANARY_LEN)) for _ in range(n)]


@dataclass
class Split:
    train_ids: np.ndarray
    val_ids: np.ndarray          # validation text with the planted canaries
    val_canaries: list[str]      # planted in validation only
    fresh_canaries: list[str]    # never shown to the solution (reorderings of the planted)
    canary_mask: np.ndarray      # True at val_ids positions inside a planted canary line


def shuffled_copies(canaries: list[str], per_canary: int, seed: int) -> list[str]:
    """Fresh control canaries: random reorderings of the planted ones. Same characters,
    so only memorised order (not character frequencies) can separate the two sets."""
    rng = np.random.default_rng(seed)
    out = []
    for c in canaries:
        for _ in range(per_canary):
            out.append("".join(np.array(list(c))[rng.permutation(len(c))]))
    return out


def make_split(seed: int = 0, val_fraction: float = 0.1, n_canaries: int = 3,
               repeats: int = 48, fresh_per_canary: int = 16) -> Split:
    paras = CORPUS.read_text(encoding="ascii").strip("\n").split("\n\n")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paras))
    n_val = max(1, int(round(val_fraction * len(paras))))
    val_paras = [paras[i] for i in sorted(order[:n_val])]
    train_paras = [paras[i] for i in sorted(order[n_val:])]
    assert not set(val_paras) & set(train_paras)
    canaries = make_canaries(n_canaries, seed=1000 + seed)
    fresh = shuffled_copies(canaries, fresh_per_canary, seed=2000 + seed)
    assert not set(canaries) & set(fresh)
    # Plant each canary `repeats` times on its own line between validation paragraphs.
    plants = [c for c in canaries for _ in range(repeats)]
    rng.shuffle(plants)
    slots = np.sort(rng.integers(0, len(val_paras) + 1, size=len(plants)))
    pieces, j = [], 0
    for i, p in enumerate(val_paras + [None]):
        while j < len(plants) and slots[j] == i:
            pieces.append(plants[j])
            j += 1
        if p is not None:
            pieces.append(p)
    val_text = "\n\n".join(pieces) + "\n"
    train_text = "\n\n".join(train_paras) + "\n"
    mask = np.zeros(len(val_text), dtype=bool)
    start = 0
    for piece in pieces:
        if piece in canaries:
            mask[start:start + len(piece)] = True
        start += len(piece) + 2
    assert "".join(np.array(list(val_text))[mask]) == "".join(p for p in pieces if p in canaries)
    return Split(to_ids(train_text), to_ids(val_text), canaries, fresh, mask)


def unigram_nlls(train_ids: np.ndarray, targets: np.ndarray, vocab: int = 256) -> np.ndarray:
    """Per-token NLL (nats) of targets under add-one unigram counts of train_ids."""
    counts = np.bincount(train_ids, minlength=vocab).astype(np.float64) + 1.0
    return -np.log(counts / counts.sum())[targets]


def token_nlls(logprobs_fn, ids: np.ndarray, seq_len: int, vocab: int = 256) -> np.ndarray:
    """NLL (nats) of ids[1:], by the suite's definition of validation loss: windows start
    at 0, T, 2T, ...; window k feeds ids[kT : kT+T] and predicts ids[kT+1 : kT+T+1], so
    every token but the first is predicted exactly once. Entry j is the NLL of ids[j+1]."""
    out = np.empty(ids.size - 1)
    for s in range(0, ids.size - 1, seq_len):
        y = ids[s + 1:s + seq_len + 1]
        x = ids[s:s + y.size]
        lp = np.asarray(logprobs_fn(x), dtype=np.float64)
        if lp.shape != (x.size, vocab):
            raise AssertionError(f"logprobs({x.size} ids) returned shape {lp.shape}, expected {(x.size, vocab)}")
        if not np.allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-3):
            raise AssertionError("logprobs rows are not normalised log-probabilities")
        out[s:s + y.size] = -lp[np.arange(y.size), y]
    return out


def canary_nll(logprobs_fn, canary: str, skip: int = 4) -> float:
    """Mean NLL (nats/char) of a canary's characters after the first `skip`, read as in
    the validation text: on a line of its own after a blank line."""
    ids = to_ids("\n\n" + canary + "\n")
    lp = np.asarray(logprobs_fn(ids[:-1]), dtype=np.float64)
    start = 2 + skip
    tgt = ids[start:2 + len(canary)]
    rows = np.arange(start - 1, 1 + len(canary))
    return float(-lp[rows, tgt].mean())
