"""glm5's batched_beam_search takes the model first and calls model.forward(ids) on an
(n, L) array of equal-length rows, expecting the last position's logits (n, V)."""
import numpy as np

import beam_search as _solution


class _ForwardModel:
    """The canonical next_logprobs(ids) model seen through glm5's forward(ids) protocol.

    Log-probabilities are valid logits (glm5 applies its own log-softmax)."""

    def __init__(self, model):
        self._model = model

    def forward(self, token_ids):
        rows = np.atleast_2d(np.asarray(token_ids))
        return np.stack([self._model.next_logprobs([int(t) for t in row]) for row in rows])


def batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model=None):
    wrapped = _solution.MinimalTransformer() if model is None else _ForwardModel(model)
    return _solution.batched_beam_search(wrapped, prompts, beam_width, max_new_tokens,
                                         alpha=alpha, eos_token_id=eos_token_id)
