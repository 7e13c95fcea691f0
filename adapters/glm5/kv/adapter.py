"""glm5's IncrementalDecoder driven through its own KVCache objects (one per layer).

forward_step(token_ids, caches) takes the caches from its caller and returns the last
position's logits, for a (B, T) prompt or a (B,) decode step."""
import numpy as np

import kv_cache as _solution

D_MODEL, HEADS, LAYERS, VOCAB = 16, 2, 2, 64


class _Model:
    vocab_size = VOCAB

    def __init__(self, batch_size, max_len):
        # The decoder draws its weights from NumPy's global generator: seeding it gives the
        # same weights to every model built here (the suite compares models with each other).
        np.random.seed(0)
        self._decoder = _solution.IncrementalDecoder(D_MODEL, HEADS, LAYERS, max_len, VOCAB)
        # Its _init_caches reads an attribute __init__ never sets; the caches are built as
        # that method would, with the constructor's own arguments.
        self._caches = [_solution.KVCache(batch_size, max_len, HEADS, D_MODEL // HEADS) for _ in range(LAYERS)]

    def prefill(self, token_ids, lengths):
        token_ids = np.asarray(token_ids)
        if np.any(np.asarray(lengths) != token_ids.shape[1]):
            raise ValueError("IncrementalDecoder.forward_step takes no per-item lengths")
        return self._decoder.forward_step(token_ids, self._caches, is_prefill=True)

    def decode(self, token_ids):
        return self._decoder.forward_step(np.asarray(token_ids), self._caches)

    def cache_lengths(self):
        return np.array(self._caches[0].seq_lens)


def make_kv_model(batch_size, max_len):
    return _Model(int(batch_size), int(max_len))
