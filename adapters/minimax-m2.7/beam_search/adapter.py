"""minimax-m2.7's batched_beam_search has the canonical signature but calls
model.forward(ids) on an (n, L) array and reads the last position of (n, L, V) logits."""
import numpy as np

import beam_search as _solution


class _SequenceModel:
    """forward(ids) -> (n, L, V): position t holds next_logprobs(row[:t + 1])."""

    def __init__(self, model):
        self._model = model
        self.vocab_size = model.vocab_size

    def forward(self, token_ids):
        rows = np.atleast_2d(np.asarray(token_ids))
        out = np.empty((rows.shape[0], rows.shape[1], self.vocab_size))
        for i, row in enumerate(rows):
            ids = [int(t) for t in row]
            for t in range(len(ids)):
                out[i, t] = self._model.next_logprobs(ids[: t + 1])
        return out


def batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model=None):
    wrapped = None if model is None else _SequenceModel(model)
    return _solution.batched_beam_search(prompts, beam_width, max_new_tokens, alpha=alpha,
                                         eos_token_id=eos_token_id, model=wrapped)
