"""qwen36's batched_beam_search wants a model with get_log_probs(ids) and vocab_size,
and has no default model (its beam_search_wrapper builds MinimalLM)."""
import beam_search as _solution


class _LogProbModel:
    def __init__(self, model):
        self._model = model
        self.vocab_size = model.vocab_size

    def get_log_probs(self, token_ids):
        return self._model.next_logprobs([int(t) for t in token_ids])


def batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model=None):
    if model is None:
        return _solution.beam_search_wrapper(prompts, beam_width, max_new_tokens, alpha, eos_token_id)
    return _solution.batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id,
                                         _LogProbModel(model))
