"""Trusted next-token models for the beam-search suite.

Both classes follow the model protocol of the challenge:

    model.next_logprobs(token_ids: list[int]) -> np.ndarray of shape (vocab_size,)

holding normalised log-probabilities (float64) of the token that follows `token_ids`
(prompt + tokens generated so far). They are built inside the worker from
`remote("TableLM", ...)` / `remote("RandomToyLM", ...)` and imported by the tests to
compute expected results in the trusted process. Constructor parameters are plain data
(ints, floats, lists) so that a spec can travel to the worker.
"""
from __future__ import annotations

import hashlib

import numpy as np


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _context_seed(seed: int, token_ids) -> int:
    data = np.asarray([seed, *token_ids], dtype=np.int64).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class TableLM:
    """A scripted LM: the test fixes the next-token log-probabilities per context exactly.

    rules: list of [context, entries]; context is the full token list (prompt included)
    and entries a list of [token, logprob]. The listed tokens get exactly those
    log-probabilities; the remaining probability mass is spread over the other tokens
    with slightly different weights (no exact ties), so every row is a normalised
    distribution. Contexts without a rule get a pseudo-random distribution derived
    from a hash of the context (deterministic; no ties).
    """

    def __init__(self, vocab_size: int, rules: list, seed: int = 0, default_sharpness: float = 1.0):
        self.vocab_size = int(vocab_size)
        self.seed = int(seed)
        self.default_sharpness = float(default_sharpness)
        self._rows: dict[tuple[int, ...], np.ndarray] = {}
        for context, entries in rules:
            key = tuple(int(t) for t in context)
            if key in self._rows:
                raise ValueError(f"duplicate rule for context {key}")
            self._rows[key] = self._row_from_entries(key, entries)

    def _row_from_entries(self, key, entries) -> np.ndarray:
        row = np.full(self.vocab_size, np.nan)
        for tok, lp in entries:
            if not 0 <= int(tok) < self.vocab_size or not np.isnan(row[int(tok)]):
                raise ValueError(f"bad or repeated token {tok} in rule for {key}")
            row[int(tok)] = float(lp)
        listed = ~np.isnan(row)
        rest_mass = 1.0 - np.exp(row[listed]).sum()
        if rest_mass <= 1e-9:
            raise ValueError(f"rule for {key} leaves no probability mass for other tokens")
        rest = np.flatnonzero(~listed)
        # Distinct weights: no two unlisted tokens share a log-probability.
        rng = np.random.default_rng(_context_seed(self.seed + 1, key))
        weights = 1.0 + rng.permutation(rest.size) * 1e-3
        row[rest] = np.log(rest_mass * weights / weights.sum())
        return row

    def next_logprobs(self, token_ids) -> np.ndarray:
        key = tuple(int(t) for t in token_ids)
        row = self._rows.get(key)
        if row is None:
            rng = np.random.default_rng(_context_seed(self.seed, key))
            row = _log_softmax(self.default_sharpness * rng.standard_normal(self.vocab_size))
            self._rows[key] = row
        return row.copy()


class RandomToyLM:
    """A random one-block causal transformer LM (pre-LayerNorm, multi-head attention, GELU MLP).

    eos_token_id / eos_bias / eos_bias_per_token add a length-dependent bonus to the EOS
    logit so that beams finish at different lengths (the plain random model almost never
    ranks a fixed EOS token near the top). sharpness scales the logits.
    """

    def __init__(self, vocab_size: int = 1000, d_model: int = 64, n_heads: int = 4,
                 max_len: int = 256, seed: int = 0, sharpness: float = 1.0,
                 eos_token_id: int | None = None, eos_bias: float = 0.0,
                 eos_bias_per_token: float = 0.0):
        if d_model % n_heads:
            raise ValueError("d_model must be divisible by n_heads")
        self.vocab_size, self.d_model, self.n_heads = int(vocab_size), int(d_model), int(n_heads)
        self.sharpness = float(sharpness)
        self.eos_token_id = eos_token_id
        self.eos_bias, self.eos_bias_per_token = float(eos_bias), float(eos_bias_per_token)
        rng = np.random.default_rng(seed)
        d, v = self.d_model, self.vocab_size
        s = 1.0 / np.sqrt(d)
        self.embed = rng.standard_normal((v, d))
        self.pos = 0.1 * rng.standard_normal((max_len, d))
        self.wq, self.wk, self.wv, self.wo = (s * rng.standard_normal((d, d)) for _ in range(4))
        self.w1 = s * rng.standard_normal((d, 4 * d))
        self.w2 = (0.5 / np.sqrt(d)) * rng.standard_normal((4 * d, d))
        self.unembed = s * rng.standard_normal((d, v))
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    @staticmethod
    def _layer_norm(x):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)

    def _last_hidden(self, ids: np.ndarray) -> np.ndarray:
        n, d, h = ids.size, self.d_model, self.n_heads
        x = self.embed[ids] + self.pos[:n]
        a = self._layer_norm(x)
        q, k, v = ((a @ w).reshape(n, h, d // h).transpose(1, 0, 2) for w in (self.wq, self.wk, self.wv))
        # Only the last position's output is needed for the next token.
        scores = q[:, -1:, :] @ k.transpose(0, 2, 1) / np.sqrt(d // h)   # (h, 1, n)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        att = (p @ v).transpose(1, 0, 2).reshape(1, d) @ self.wo
        y = x[-1:] + att
        m = self._layer_norm(y) @ self.w1
        gelu = 0.5 * m * (1.0 + np.tanh(0.7978845608 * (m + 0.044715 * m ** 3)))
        return self._layer_norm(y + gelu @ self.w2)[0]

    def next_logprobs(self, token_ids) -> np.ndarray:
        key = tuple(int(t) for t in token_ids)
        row = self._cache.get(key)
        if row is None:
            if not key:
                raise ValueError("the context must hold at least one token")
            logits = self.sharpness * (self._last_hidden(np.asarray(key, dtype=np.int64)) @ self.unembed)
            if self.eos_token_id is not None:
                logits[self.eos_token_id] += self.eos_bias + self.eos_bias_per_token * len(key)
            row = _log_softmax(logits)
            self._cache[key] = row
        return row.copy()
