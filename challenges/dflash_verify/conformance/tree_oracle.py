"""Trusted expectations for the tree-verification suite (runs in the test process).

The expected answer never goes through a mask or a row index: it asks the target model for
the next token after explicit token sequences (prompt + root-to-node path), which is what
autoregressive greedy decoding does. `variant_walk` replays the plausible wrong algorithms
so each trap test can prove that its cases tell them apart from the right one.
"""
from __future__ import annotations

import numpy as np


def expected_mask(prompt_len, parents):
    """(P+N, P+N) bool mask from explicit ancestor sets."""
    size = prompt_len + len(parents)
    mask = np.zeros((size, size), dtype=bool)
    for r in range(prompt_len):
        mask[r, : r + 1] = True
    for i in range(len(parents)):
        mask[prompt_len + i, :prompt_len] = True
        node = i
        while node >= 0:                      # itself, then every ancestor
            mask[prompt_len + i, prompt_len + node] = True
            node = parents[node]
    return mask


def greedy_next(model, context) -> int:
    return int(np.argmax(model.next_logits(context)))


def expected_verify(model, prompt, tokens, parents):
    """(accepted, new_token) of a correct greedy verification, first matching child first."""
    accepted, node = [], -1
    while True:
        target = greedy_next(model, list(prompt) + accepted)
        match = next((c for c in range(len(tokens)) if parents[c] == node and tokens[c] == target), None)
        if match is None:
            return accepted, target
        accepted.append(tokens[match])
        node = match


def depth(parents, i):
    d = 0
    while i >= 0:
        d, i = d + 1, parents[i]
    return d


def variant_walk(model, prompt, tokens, parents, variant):
    """What a solution with one known bug would return (used only to check test cases).

    variants: "row_i_minus_1" / "row_by_depth" / "row_own" (logits trap), "keep_rejected_subtree",
    "first_child_only", "bonus_from_rejected_row", "bonus_from_last_row", "sibling_mask".
    """
    p, n = len(prompt), len(tokens)
    seq = list(prompt) + list(tokens)
    mask = expected_mask(p, parents)
    if variant == "sibling_mask":             # tree part causal: nodes see all earlier nodes
        mask[p:, p:] = np.tril(np.ones((n, n), dtype=bool))
    rows = [model.next_logits([seq[j] for j in np.flatnonzero(mask[r])]) for r in range(p + n)]

    def pred_row(i):
        if variant == "row_i_minus_1":
            return p + i - 1
        if variant == "row_by_depth":
            return p - 1 + depth(parents, i) - 1
        if variant == "row_own":
            return p + i
        return p - 1 if parents[i] < 0 else p + parents[i]

    def own_row(node):
        return p - 1 if node < 0 else p + node

    if variant == "keep_rejected_subtree":    # accept any node that matches its parent's row
        kept = [i for i in range(n) if int(np.argmax(rows[pred_row(i)])) == tokens[i]]
        last = kept[-1] if kept else -1
        return [tokens[i] for i in kept], int(np.argmax(rows[own_row(last)]))

    accepted, node = [], -1
    while True:
        kids = [c for c in range(n) if parents[c] == node]
        if variant == "first_child_only":
            kids = kids[:1]
        match = next((c for c in kids if int(np.argmax(rows[pred_row(c)])) == tokens[c]), None)
        if match is None:
            bonus = own_row(node)
            if variant == "bonus_from_rejected_row" and kids:
                bonus = p + kids[0]
            if variant == "bonus_from_last_row":
                bonus = p + n - 1
            return accepted, int(np.argmax(rows[bonus]))
        accepted.append(tokens[match])
        node = match
