"""Trusted target model for the tree-verification suite.

HashTargetModel follows the challenge's target-model protocol:

    target_model.forward(token_ids, mask) -> logits of shape (L, V)

where token_ids has length L and mask is an (L, L) boolean array, True = row may attend to
column (an additive float mask with 0 = attend and -inf = blocked is accepted too). Row r
of the result holds the logits of the token that follows position r.

The logits of row r are a pseudo-random function of exactly the tokens row r may attend to,
in position order. So a row sees "its" context only if the mask is right, and the row for a
tree node equals the row an autoregressive pass would compute for the same token sequence:
any wrong mask, wrong row index or wrong walk changes the answer (up to a 1/V chance per
decision, which the tests rule out by construction).

To judge one mistake at a time, a model can be told the tree it will verify
(`tree=[prompt_len, parents]`) and a `mask_policy`:
  "use"    (default) logits follow the mask it is given;
  "check"  forward raises ValueError unless the given mask is exactly the tree mask;
  "ignore" logits follow the correct tree mask whatever mask is given, so a wrong mask
           cannot change the answer and only the walk over the logits is judged.
"""
from __future__ import annotations

import hashlib

import numpy as np


class HashTargetModel:
    def __init__(self, vocab_size: int = 24, seed: int = 0, max_forward_calls: int | None = None,
                 tree: list | None = None, mask_policy: str = "use"):
        self.vocab_size = int(vocab_size)
        self.seed = int(seed)
        self.max_forward_calls = max_forward_calls
        self.forward_calls = 0
        if mask_policy not in ("use", "check", "ignore"):
            raise ValueError(f"unknown mask_policy {mask_policy!r}")
        if mask_policy != "use" and tree is None:
            raise ValueError("mask_policy 'check' and 'ignore' need tree=[prompt_len, parents]")
        self.mask_policy = mask_policy
        self.tree_mask = None if tree is None else tree_mask(int(tree[0]), [int(p) for p in tree[1]])
        self._memo: dict[tuple[int, ...], np.ndarray] = {}

    def next_logits(self, context) -> np.ndarray:
        """Logits (V,) of the token after the sequence `context`."""
        key = tuple(int(t) for t in context)
        row = self._memo.get(key)
        if row is None:
            data = np.asarray([self.seed, len(key), *key], dtype=np.int64).tobytes()
            digest = hashlib.blake2b(data, digest_size=8).digest()
            row = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal(self.vocab_size)
            self._memo[key] = row
        return row.copy()

    @staticmethod
    def _allowed(mask, length: int) -> np.ndarray:
        m = np.asarray(mask)
        if m.shape != (length, length):
            raise ValueError(f"mask has shape {m.shape}, expected ({length}, {length})")
        if m.dtype == np.bool_:
            return m
        if np.issubdtype(m.dtype, np.floating):
            blocked = m <= -1e4  # -inf or a large negative bias
            if not np.all(blocked | (m == 0)):
                raise ValueError("an additive mask must hold only 0 (attend) and -inf (blocked)")
            return ~blocked
        raise TypeError(f"mask must be bool (True = attend) or additive float, got {m.dtype}")

    def forward(self, token_ids, mask) -> np.ndarray:
        self.forward_calls += 1
        if self.max_forward_calls is not None and self.forward_calls > self.max_forward_calls:
            raise RuntimeError(f"target model called more than {self.max_forward_calls} time(s)")
        tokens = np.asarray(token_ids, dtype=np.int64).reshape(-1)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError("token id out of range")
        allowed = self._allowed(mask, tokens.size)
        if self.mask_policy != "use":
            if self.tree_mask.shape != allowed.shape:
                raise ValueError(f"expected {self.tree_mask.shape[0]} tokens (prompt + tree), got {tokens.size}")
            if self.mask_policy == "check" and not np.array_equal(allowed, self.tree_mask):
                r, c = np.argwhere(allowed != self.tree_mask)[0]
                raise ValueError(f"wrong tree mask: row {r} {'must' if self.tree_mask[r, c] else 'must not'} "
                                 f"attend to column {c}")
            allowed = self.tree_mask
        return np.stack([self.next_logits(tokens[np.flatnonzero(allowed[r])])
                         for r in range(tokens.size)]) if tokens.size else np.zeros((0, self.vocab_size))

    def greedy_decode(self, prompt, n_tokens: int) -> list[int]:
        """Plain autoregressive greedy decoding: one forward pass with a causal mask per token."""
        seq = [int(t) for t in prompt]
        for _ in range(n_tokens):
            causal = np.tril(np.ones((len(seq), len(seq)), dtype=bool))
            seq.append(int(np.argmax(self.forward(seq, causal)[-1])))
        return seq[len(prompt):]


def tree_mask(prompt_len: int, parents: list[int]) -> np.ndarray:
    """The correct (P+N, P+N) bool mask: causal prompt; node -> prompt, ancestors, itself."""
    size = prompt_len + len(parents)
    mask = np.zeros((size, size), dtype=bool)
    mask[:prompt_len, :prompt_len] = np.tril(np.ones((prompt_len, prompt_len), dtype=bool))
    mask[prompt_len:, :prompt_len] = True
    for i, parent in enumerate(parents):
        node = i
        while node >= 0:
            mask[prompt_len + i, prompt_len + node] = True
            node = parents[node]
    return mask
