"""dflash_verify solutions whose mask is additive and whose verify returns one flat list."""
from __future__ import annotations

import numpy as np


def additive_mask_flat_emitted(solution):
    """The canonical (build_tree_mask, verify_and_accept) around a solution module whose
    build_tree_mask returns the additive form (0 attend / -inf blocked) and whose
    verify_and_accept returns the emitted tokens as one flat list.

    The suite's target accepts the additive mask the solution passes, so the model is handed
    over unchanged. The emitted list is split into (accepted, new token) as it stands: when
    the solution emits no token after a fully accepted path, its last accepted token is
    reported as the new one, and the emitted sequence is unchanged.
    """

    def build_tree_mask(prompt_len, tree_parents):
        return np.asarray(solution.build_tree_mask(prompt_len, tree_parents)) == 0

    def verify_and_accept(prompt_tokens, tree_tokens, tree_parents, target_model, temperature=0):
        emitted = [int(t) for t in solution.verify_and_accept(prompt_tokens, tree_tokens, tree_parents,
                                                              target_model, temperature)]
        return emitted[:-1], (emitted[-1] if emitted else None)

    return build_tree_mask, verify_and_accept
