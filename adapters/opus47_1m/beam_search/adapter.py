"""opus47_1m's batched_beam_search takes the model first, calls model.forward(ids) on a
(1, L) array expecting (1, V) logits, and returns dicts {tokens, score, ...}."""
import numpy as np

import beam_search as _solution


class _ForwardModel:
    def __init__(self, model):
        self._model = model

    def forward(self, token_ids):
        rows = np.atleast_2d(np.asarray(token_ids))
        return np.stack([self._model.next_logprobs([int(t) for t in row]) for row in rows])


def batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model=None):
    wrapped = _solution.TinyLM() if model is None else _ForwardModel(model)
    out = _solution.batched_beam_search(wrapped, prompts, beam_width, max_new_tokens,
                                        alpha=alpha, eos_token_id=eos_token_id)
    # dict -> (tokens, score): the canonical return shape; order and values untouched.
    return [[(list(b["tokens"]), b["score"]) for b in item] for item in out]
