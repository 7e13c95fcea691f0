"""Batched beam search with EOS handling and a length penalty (reference solution, NumPy only).

Semantics (see PROMPT.md):
- every unfinished beam is expanded with its top 2K next tokens;
- the candidates of one batch item are pooled with that item's finished beams, which keep
  their frozen score, and the top K by ranking score survive;
- ranking score = accumulated logprob / generated_length ** alpha, where generated_length
  counts generated tokens only (EOS included); the accumulated logprob is never penalised;
- an item stops when its K kept beams are all finished; the search stops when every item
  has stopped or after max_new_tokens steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Beam:
    sequence: tuple[int, ...]  # prompt followed by the generated tokens (EOS last if finished)
    n_prompt: int              # how many leading tokens of `sequence` are the prompt
    logprob: float             # accumulated log-probability, never length-penalised
    finished: bool

    @property
    def generated(self) -> tuple[int, ...]:
        return self.sequence[self.n_prompt:]


def ranking_score(beam: Beam, alpha: float) -> float:
    length = len(beam.sequence) - beam.n_prompt  # generated tokens only, EOS included
    return beam.logprob / (length ** alpha)


def _top_tokens(logprobs: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest log-probabilities (unordered: the pool is sorted later)."""
    n = min(n, logprobs.size)
    return np.argpartition(-logprobs, n - 1)[:n]


def _expand(beam: Beam, logprobs: np.ndarray, width: int, eos_token_id: int) -> list[Beam]:
    return [Beam(beam.sequence + (int(t),), beam.n_prompt, beam.logprob + float(logprobs[t]),
                 int(t) == eos_token_id)
            for t in _top_tokens(logprobs, width)]


def _select(pool: list[Beam], k: int, alpha: float) -> list[Beam]:
    # sorted() is stable, so exact ties keep the pool order (finished beams first).
    return sorted(pool, key=lambda b: ranking_score(b, alpha), reverse=True)[:k]


def _next_logprobs(model, context: tuple[int, ...]) -> np.ndarray:
    logprobs = np.asarray(model.next_logprobs(list(context)), dtype=np.float64)
    if logprobs.ndim != 1:
        raise ValueError(f"model returned shape {logprobs.shape}, expected (vocab_size,)")
    return logprobs


def batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model=None):
    """Beam search for every prompt of a batch.

    Returns, per prompt, a list of K (tokens, score) pairs sorted best first; tokens exclude
    the prompt, and a finished beam's tokens end with eos_token_id.
    """
    k = int(beam_width)
    if k < 1 or int(max_new_tokens) < 1:
        raise ValueError("beam_width and max_new_tokens must be at least 1")
    if model is None:
        model = ToyTransformerLM(vocab_size=1000, d_model=64, seed=0)
    prompts = [tuple(int(t) for t in p) for p in prompts]
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")

    # One list of kept beams per batch item; each starts from its bare prompt.
    beams = [[Beam(p, len(p), 0.0, False)] for p in prompts]
    active = [True] * len(prompts)
    for _ in range(int(max_new_tokens)):
        if not any(active):
            break
        for item in range(len(prompts)):
            if not active[item]:
                continue
            # Finished beams compete with their frozen score against the new candidates.
            pool = [b for b in beams[item] if b.finished]
            for beam in beams[item]:
                if not beam.finished:
                    logprobs = _next_logprobs(model, beam.sequence)
                    pool.extend(_expand(beam, logprobs, 2 * k, eos_token_id))
            beams[item] = _select(pool, k, alpha)
            active[item] = not all(b.finished for b in beams[item])

    results = []
    for item_beams in beams:
        best = sorted(item_beams, key=lambda b: ranking_score(b, alpha), reverse=True)
        results.append([(list(b.generated), float(ranking_score(b, alpha))) for b in best])
    return results


class ToyTransformerLM:
    """The default model: a random one-block causal transformer (vocab 1000, d_model 64)."""

    def __init__(self, vocab_size: int = 1000, d_model: int = 64, n_heads: int = 4,
                 max_len: int = 512, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.vocab_size, self.d_model, self.n_heads = vocab_size, d_model, n_heads
        scale = 1.0 / np.sqrt(d_model)
        self.embed = rng.normal(0.0, 1.0, (vocab_size, d_model))
        self.pos = rng.normal(0.0, 0.1, (max_len, d_model))
        self.w_qkv = rng.normal(0.0, scale, (d_model, 3 * d_model))
        self.w_out = rng.normal(0.0, scale, (d_model, d_model))
        self.w_up = rng.normal(0.0, scale, (d_model, 4 * d_model))
        self.w_down = rng.normal(0.0, 0.5 * scale, (4 * d_model, d_model))
        self.w_vocab = rng.normal(0.0, scale, (d_model, vocab_size))

    @staticmethod
    def _norm(x: np.ndarray) -> np.ndarray:
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)

    def next_logprobs(self, token_ids) -> np.ndarray:
        ids = np.asarray(token_ids, dtype=np.int64)
        n, h = ids.size, self.n_heads
        hd = self.d_model // h
        x = self.embed[ids] + self.pos[:n]
        q, k, v = np.split(self._norm(x) @ self.w_qkv, 3, axis=-1)
        q, k, v = (m.reshape(n, h, hd).transpose(1, 0, 2) for m in (q, k, v))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        s = np.where(np.tril(np.ones((n, n), dtype=bool)), s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        x = x + (p @ v).transpose(1, 0, 2).reshape(n, self.d_model) @ self.w_out
        u = self._norm(x) @ self.w_up
        x = x + np.maximum(u, 0.0) @ self.w_down
        logits = self._norm(x[-1]) @ self.w_vocab
        logits -= logits.max()
        return logits - np.log(np.exp(logits).sum())
