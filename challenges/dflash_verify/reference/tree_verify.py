"""Tree-attention verification for speculative decoding (reference solution, NumPy only).

A draft tree (tokens + parent indices in topological order, -1 = child of the last prompt
token) is verified with ONE forward pass of the target model over prompt + tree, using a
mask where every node sees the prompt, its ancestors and itself. The logits that judge
node i sit at its parent's row (P - 1 for a root, P + parent otherwise): row r predicts the
token after position r.
"""
from __future__ import annotations

import numpy as np


def _check_parents(tree_parents) -> list[int]:
    parents = [int(p) for p in tree_parents]
    for i, p in enumerate(parents):
        if not -1 <= p < i:
            raise ValueError(f"node {i} has parent {p}: parents must be -1 or an earlier node")
    return parents


def build_tree_mask(prompt_len, tree_parents) -> np.ndarray:
    """(P+N, P+N) bool mask, True = may attend: causal prompt; node -> prompt, ancestors, itself."""
    p_len = int(prompt_len)
    parents = _check_parents(tree_parents)
    size = p_len + len(parents)
    mask = np.zeros((size, size), dtype=bool)
    mask[:p_len, :p_len] = np.tril(np.ones((p_len, p_len), dtype=bool))
    mask[p_len:, :p_len] = True
    for i, parent in enumerate(parents):
        row = p_len + i
        if parent >= 0:
            # Topological order: the parent's row already lists all of its ancestors.
            mask[row, p_len:row] = mask[p_len + parent, p_len:row]
        mask[row, row] = True
    return mask


def tree_attention_bias(mask: np.ndarray) -> np.ndarray:
    """The additive form of a boolean mask: 0 where attention is allowed, -inf elsewhere."""
    return np.where(mask, 0.0, -np.inf)


def _children(parents: list[int]) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {-1: []}
    for i, parent in enumerate(parents):
        kids.setdefault(parent, []).append(i)
        kids.setdefault(i, [])
    return kids


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = np.exp(z - z.max())
    return z / z.sum()


def verify_and_accept(prompt_tokens, tree_tokens, tree_parents, target_model, temperature,
                      rng=None):
    """Verify a draft tree with one target forward pass.

    Returns (accepted_tokens, new_token): the tokens of the accepted root-to-node path and the
    target's own token after it (the correction at the first rejection, or the bonus token
    after the last accepted node).

    temperature == 0: greedy; a child is accepted iff its token is the argmax of its parent's
    row, so the output equals autoregressive greedy decoding.
    temperature > 0: recursive rejection sampling against the deterministic draft: siblings
    are tried in order, each accepted with its probability under the current residual
    distribution, which loses a rejected token's mass; this samples exactly from the target.
    """
    prompt = [int(t) for t in prompt_tokens]
    tokens = [int(t) for t in tree_tokens]
    parents = _check_parents(tree_parents)
    if len(tokens) != len(parents):
        raise ValueError("tree_tokens and tree_parents differ in length")
    if not prompt:
        raise ValueError("the prompt needs at least one token")
    p_len = len(prompt)
    mask = build_tree_mask(p_len, parents)
    logits = np.asarray(target_model.forward(prompt + tokens, mask), dtype=np.float64)
    kids = _children(parents)
    rng = np.random.default_rng() if rng is None else rng

    accepted: list[int] = []
    node = -1                      # last accepted node; -1 = the last prompt token
    while True:
        row = logits[p_len - 1 if node < 0 else p_len + node]
        if temperature == 0:
            target = int(np.argmax(row))
            match = next((c for c in kids[node] if tokens[c] == target), None)
            if match is None:
                return accepted, target
        else:
            residual = _softmax(row, float(temperature))
            match = None
            for child in kids[node]:
                if rng.random() < residual[tokens[child]]:
                    match = child
                    break
                residual[tokens[child]] = 0.0
                residual /= residual.sum()
            if match is None:
                return accepted, int(rng.choice(residual.size, p=residual))
        accepted.append(tokens[match])
        node = match
