"""opus47_1m's MultiHeadAttention (one decoder layer, pure Python) with its KVCache.

Its prefill takes one item's prompt (a list of hidden-state vectors) at a time, with no
padding; decode_step takes one vector per item. The model has no token embedding, so the
adapter gives token ids fixed random vectors."""
import numpy as np

import kv_cache as _solution

D_MODEL, HEADS, VOCAB = 16, 2, 64
_EMBED = np.random.default_rng(0).standard_normal((VOCAB, D_MODEL))


class _Model:
    vocab_size = VOCAB

    def __init__(self, batch_size, max_len):
        self._mha = _solution.MultiHeadAttention(D_MODEL, HEADS, layer_idx=0, seed=0)
        self._cache = _solution.KVCache(1, batch_size, HEADS, D_MODEL // HEADS, max_len)

    def prefill(self, token_ids, lengths):
        token_ids = np.asarray(token_ids)
        out = np.zeros(token_ids.shape + (D_MODEL,))
        for b, n in enumerate(np.asarray(lengths)):   # its API: one item's real tokens per call
            rows = self._mha.prefill([list(_EMBED[t]) for t in token_ids[b, :n]], self._cache, b)
            out[b, :n] = rows
        return out

    def decode(self, token_ids):
        return np.array(self._mha.decode_step([list(_EMBED[t]) for t in np.asarray(token_ids)], self._cache))

    def cache_lengths(self):
        return np.array(self._cache.lengths)


def make_kv_model(batch_size, max_len):
    return _Model(int(batch_size), int(max_len))
