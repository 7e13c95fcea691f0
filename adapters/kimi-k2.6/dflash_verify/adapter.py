"""kimi-k2.6's dflash_verify (tree_attention.py) seen through the canonical entry points.

Translations only: its verify_and_accept returns (emitted tokens, None), and its model protocol lets forward(ids) omit the mask (meaning causal)."""
import numpy as np

import tree_attention as _solution


build_tree_mask = _solution.build_tree_mask


class _OptionalMaskModel:
    """The suite's target with kimi's protocol: forward(ids) without a mask is causal."""

    def __init__(self, model):
        self._model = model

    def forward(self, token_ids, mask=None):
        if mask is None:
            n = len(token_ids)
            mask = np.tril(np.ones((n, n), dtype=bool))
        return self._model.forward(token_ids, mask)


def verify_and_accept(prompt_tokens, tree_tokens, tree_parents, target_model, temperature=0):
    # The emitted list is split into (accepted, new token) as it stands: when the solution
    # emits no token after a fully accepted path, its last accepted token is reported as
    # the new one and the emitted sequence is unchanged.
    emitted, _ = _solution.verify_and_accept(prompt_tokens, tree_tokens, tree_parents,
                                             _OptionalMaskModel(target_model), temperature)
    emitted = [int(t) for t in emitted]
    return emitted[:-1], (emitted[-1] if emitted else None)
