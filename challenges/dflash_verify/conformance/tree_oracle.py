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


def greedy_continuation(model, prompt, n) -> list[int]:
    """The next n tokens of autoregressive greedy decoding after `prompt`."""
    seq = list(prompt)
    for _ in range(n):
        seq.append(greedy_next(model, seq))
    return seq[len(prompt):]


def emitted_problem(model, prompt, tokens, parents, emitted) -> str:
    """'' when one verification's emitted tokens obey the study's rules, else what is wrong.

    The rules (study prompt, sections 4 and 6): every emitted token but the last is an
    accepted tree node on one root-to-node path (the last may be a node too, or the
    target's replacement at a rejection); the emitted tokens equal autoregressive greedy
    decoding (the golden rule); a non-empty tree emits at least one token (its first
    root is either accepted or replaced). Stopping at the first rejection is allowed, and
    so is emitting no bonus token after a fully accepted path.
    """
    if tokens and not emitted:
        return "no token emitted for a non-empty tree"
    node = -1
    for i, tok in enumerate(emitted[:-1]):
        node = next((c for c in range(len(tokens)) if parents[c] == node and tokens[c] == tok), None)
        if node is None:
            return f"emitted {emitted}: token {i} ({tok}) is not on a root-to-node path of the tree"
    greedy = greedy_continuation(model, prompt, len(emitted))
    if emitted != greedy:
        at = next(i for i, (a, b) in enumerate(zip(emitted, greedy)) if a != b)
        return f"emitted {emitted} but autoregressive greedy decoding gives {greedy} (differs at token {at})"
    return ""


def chain_problem(model, prompt, tokens, parents, emitted) -> str:
    """For a chain (one child per node) the prompt fixes how far acceptance goes: every node
    is accepted until the first mismatch (section 4d). '' when `emitted` goes that far."""
    assert all(parents[i] == i - 1 for i in range(len(parents))), "suite error: not a chain"
    greedy = greedy_continuation(model, prompt, len(tokens) + 1)
    matching = next((i for i, (t, g) in enumerate(zip(tokens, greedy)) if t != g), len(tokens))
    need = matching + 1 if matching < len(tokens) else matching   # + the replacement token
    if len(emitted) < need:
        return (f"emitted {emitted}: {matching} chain node(s) match greedy decoding"
                + (" and the replacement follows" if matching < len(tokens) else "")
                + f", so {need} token(s) are due")
    return ""
