"""qwen36's TransformerDecoder (transformer.py) with its BatchedKVCache.

Its prefill returns the last layer's hidden states (B, T, dim) and its generate_step the
logits of the new token, given the current per-item lengths that its own generate() loop
tracks (prompt lengths, plus one per step)."""
import numpy as np

import transformer as _solution

DIM, HEADS, LAYERS, VOCAB = 16, 2, 2, 64


class _Model:
    vocab_size = VOCAB

    def __init__(self, batch_size, max_len):
        np.random.seed(0)   # the embeddings come from NumPy's global generator: same weights every time
        self._model = _solution.TransformerDecoder(LAYERS, DIM, HEADS, 4 * DIM, VOCAB, max_len,
                                                   batch_size=batch_size, seed=0)
        self._lengths = None

    def prefill(self, token_ids, lengths):
        self._lengths = np.asarray(lengths).copy()
        hidden = self._model.prefill(np.asarray(token_ids), lengths=self._lengths)
        # Through the model's own final norm and tied head, as generate_step does.
        return self._model.final_norm.forward(hidden) @ self._model.lm_head_weight

    def decode(self, token_ids):
        out = self._model.generate_step(np.asarray(token_ids)[:, None], lengths=self._lengths)
        if self._lengths is not None:
            self._lengths = self._lengths + 1   # as generate() advances cur_lengths
        return out

    def cache_lengths(self):
        return np.array(self._model.cache.caches[0].lengths)


def make_kv_model(batch_size, max_len):
    return _Model(int(batch_size), int(max_len))
