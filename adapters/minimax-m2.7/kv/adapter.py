"""minimax-m2.7's KVCacheAwareGenerator (TransformerBlockStack with its layer caches).

Its prefill(prompt_tokens) fills the cache and returns nothing; decode_step(token_ids)
returns the new token's logits. The generator keeps one cache for the whole batch and
takes no per-item lengths."""
import numpy as np

import kv_cache as _solution


class _Model:
    def __init__(self, batch_size, max_len):
        np.random.seed(0)   # every weight comes from NumPy's global generator: same weights every time
        config = _solution.CacheConfig(max_batch_size=batch_size, max_seq_len=max_len, num_heads=2,
                                       head_dim=8, num_layers=2)
        self._gen = _solution.KVCacheAwareGenerator(config)
        self.vocab_size = self._gen.vocab_size

    def prefill(self, token_ids, lengths):
        token_ids = np.asarray(token_ids)
        if np.any(np.asarray(lengths) != token_ids.shape[1]):
            raise ValueError("the generator takes no per-item lengths")
        # The generator's prefill is this cached forward pass with its output discarded;
        # the output goes through the LM head as in decode_step.
        hidden = self._gen.model.forward(self._gen._embed_tokens(token_ids), use_kv_cache=True)
        return np.matmul(hidden, self._gen.lm_head)

    def decode(self, token_ids):
        return self._gen.decode_step(np.asarray(token_ids)[:, None])

    def cache_lengths(self):
        cache = self._gen.model.kv_cache.get(0)
        n = 0 if cache is None else cache[0].shape[2]
        return np.full(cache[0].shape[0] if cache is not None else 0, n)


def make_kv_model(batch_size, max_len):
    return _Model(int(batch_size), int(max_len))
