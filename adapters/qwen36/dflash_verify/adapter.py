"""qwen36's dflash_verify (dflash_verify.py) seen through the canonical entry points.

Translations only: its build_tree_mask returns the additive form (0 / -inf), and its verify_and_accept returns one flat list of emitted tokens."""
import numpy as np

import dflash_verify as _solution


def build_tree_mask(prompt_len, tree_parents):
    # additive (0 = attend, -inf = blocked) -> bool (True = attend)
    return np.asarray(_solution.build_tree_mask(prompt_len, tree_parents)) == 0


def verify_and_accept(prompt_tokens, tree_tokens, tree_parents, target_model, temperature=0):
    # The suite's target accepts the additive mask the solution passes, so the model is
    # handed over unchanged. The emitted list is split into (accepted, new token) as it
    # stands: when the solution emits no token after a fully accepted path, its last
    # accepted token is reported as the new one and the emitted sequence is unchanged.
    emitted = [int(t) for t in _solution.verify_and_accept(prompt_tokens, tree_tokens, tree_parents,
                                                           target_model, temperature)]
    return emitted[:-1], (emitted[-1] if emitted else None)
