"""Trusted, independent expectations for the beam-search suite (runs in the test process).

The oracle expands every unfinished beam with the WHOLE vocabulary rather than its top 2K
tokens: with finished beams competing in a K-slot pool, the result is the same by
construction, so agreement also confirms the reference's pruning. It refuses cases whose
answer would depend on how ties are broken.
"""
from __future__ import annotations

import numpy as np

from llmbench.conformance.scale import note_comparison


class AmbiguousCase(AssertionError):
    """The test case itself is badly chosen: two ranking scores are (nearly) equal."""


def penalised(logprob: float, length: int, alpha: float) -> float:
    return logprob / (length ** alpha)


def oracle_beam_search(model, prompt, k, max_new_tokens, alpha, eos_token_id, min_gap=1e-7):
    """Returns K (tokens, score) pairs, best first, exactly as the challenge defines them."""
    beams = [((), 0.0, False)]  # (generated tokens, accumulated logprob, finished)
    for _ in range(max_new_tokens):
        # Candidate arrays: parent beam index, appended token (-1: finished beam kept as is).
        parts = []  # (parent, token, logprob, length) arrays per beam
        for b, (toks, lp, fin) in enumerate(beams):
            if fin:
                parts.append(([b], [-1], [lp], [len(toks)]))
                continue
            row = np.asarray(model.next_logprobs(list(prompt) + list(toks)), dtype=np.float64)
            v = row.size
            parts.append((np.full(v, b), np.arange(v), lp + row, np.full(v, len(toks) + 1)))
        parent, token, logp, length = (np.concatenate(col) for col in zip(*parts))
        scores = logp / length.astype(np.float64) ** alpha
        order = np.argsort(-scores, kind="stable")
        head = scores[order[: k + 1]]
        if np.any(np.abs(np.diff(head)) < min_gap):
            raise AmbiguousCase(f"near-tie among the top {k + 1} scores: {head}")
        new = []
        for i in order[:k]:
            toks, _, fin = beams[parent[i]]
            if token[i] < 0:
                new.append(beams[parent[i]])
            else:
                new.append((toks + (int(token[i]),), float(logp[i]), int(token[i]) == eos_token_id))
        beams = new
        if all(fin for _, _, fin in beams):
            break
    return [(list(t), penalised(lp, len(t), alpha)) for t, lp, _ in beams]


def greedy_decode(model, prompt, max_new_tokens, eos_token_id):
    """Plain greedy decoding: (tokens, summed logprob), stopping after EOS."""
    tokens, total = [], 0.0
    for _ in range(max_new_tokens):
        row = np.asarray(model.next_logprobs(list(prompt) + tokens), dtype=np.float64)
        best = int(np.argmax(row))
        top2 = np.sort(row)[-2:]
        if top2[1] - top2[0] < 1e-9:
            raise AmbiguousCase("greedy tie")
        tokens.append(best)
        total += float(row[best])
        if best == eos_token_id:
            break
    return tokens, total


def sequence_logprob(model, prompt, tokens) -> float:
    """Sum of the model's log-probabilities of `tokens` after `prompt`."""
    total = 0.0
    for i, tok in enumerate(tokens):
        total += float(model.next_logprobs(list(prompt) + list(tokens[:i]))[tok])
    return total


def as_plain(result_item):
    """A solution's result for one batch item -> list of (list[int], float); checks the shape."""
    out = []
    for entry in result_item:
        assert len(entry) == 2, f"each result must be a (tokens, score) pair, got {entry!r}"
        toks, score = entry
        out.append(([int(t) for t in np.asarray(toks).reshape(-1)], float(score)))
    return out


def same_results(got, expected, tol=1e-9) -> bool:
    # Scale sanity (llmbench validate): the expected scores, compared within tol * max(1, |score|).
    note_comparison(np.array([s for _, s in expected], dtype=float), rtol=tol, floor=1.0)
    if len(got) != len(expected):
        return False
    return all(gt == et and abs(gs - es) <= tol * max(1.0, abs(es))
               for (gt, gs), (et, es) in zip(got, expected))


def describe(results) -> str:
    return "[" + ", ".join(f"({t}, {s:.6f})" for t, s in results) + "]"


# Trap tests compare only what their trap changes, so that one bug is reported under its
# own trap and not under every other one: they sort by the reported score unless order is
# the point, drop a trailing EOS unless EOS handling is the point, and use alpha = 0 where
# the length does not matter.
def by_score(results):
    return sorted(results, key=lambda r: -r[1])


def strip_eos(tokens, eos_token_id):
    return list(tokens[:-1]) if tokens and tokens[-1] == eos_token_id else list(tokens)
