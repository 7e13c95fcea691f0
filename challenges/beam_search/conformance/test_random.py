"""Random one-block transformer LMs (support.RandomToyLM) against the independent oracle."""
import numpy as np
import pytest

from llmbench.conformance import remote
from beam_oracle import (as_plain, describe, greedy_decode, oracle_beam_search, same_results,
                         sequence_logprob)
from support import RandomToyLM

EOS = 2
# The EOS logit gets -1 + 0.4 * context length: beams finish after a handful of tokens,
# at different lengths, so finished and unfinished beams compete (and items stop early).
LM = dict(vocab_size=1000, d_model=64, eos_token_id=EOS, eos_bias=-1.0, eos_bias_per_token=0.4)


def make_prompts(seed, lengths):
    rng = np.random.default_rng(seed)
    return [[int(t) for t in rng.integers(3, 1000, n)] for n in lengths]


def search(solution, inputs, seed, prompts, k, max_new, alpha, sharpness=1.0, **model):
    params = dict(LM, seed=seed, sharpness=sharpness, **model)
    inputs(f"RandomToyLM({params}) prompts={prompts} K={k} max_new_tokens={max_new} "
           f"alpha={alpha} eos={EOS}")
    got = solution.batched_beam_search(prompts, k, max_new, alpha, EOS,
                                       model=remote("RandomToyLM", **params))
    assert len(got) == len(prompts), f"expected {len(prompts)} batch items, got {len(got)}"
    return RandomToyLM(**params), [as_plain(item) for item in got]


@pytest.mark.prompt("Requirements 1-5 and Deliver: Test 2 (batch 2, K=3, prompt lengths 3 and 5, alpha 0.6)")
def test_small_batch_matches_oracle(solution, inputs):
    prompts = make_prompts(0, [3, 5])
    model, got = search(solution, inputs, 0, prompts, 3, 8, 0.6)
    for prompt, item in zip(prompts, got):
        expected = oracle_beam_search(model, prompt, 3, 8, 0.6, EOS)
        assert same_results(item, expected), f"expected {describe(expected)}, got {describe(item)}"


CASES = [  # (seed, prompt lengths, K, max_new_tokens, alpha, sharpness)
    (1, [4], 2, 10, 0.0, 1.0),
    (2, [2, 6, 3], 4, 10, 1.0, 1.0),
    (3, [5, 5], 3, 12, 0.6, 2.0),
    (4, [1, 7], 5, 6, 0.6, 0.7),
    (5, [3, 3, 3, 3], 2, 9, 1.5, 1.5),
]


@pytest.mark.prompt("Requirements 1-6 on any batch the stated API admits")
def test_random_cases_match_oracle(solution, inputs, record_metric, case):
    matched, total, failures = 0, 0, []
    for seed, lengths, k, max_new, alpha, sharp in CASES:
        prompts = make_prompts(100 + seed, lengths)
        # One case raising or hanging counts as a miss for its items; the rest still count.
        ran, found = case(f"seed={seed}", search, solution, inputs, seed, prompts, k, max_new, alpha, sharp)
        if not ran:
            total += len(prompts)
            failures.append(f"seed={seed}: the solution raised, crashed or hung (see the test's cases)")
            continue
        model, got = found
        for prompt, item in zip(prompts, got):
            expected = oracle_beam_search(model, prompt, k, max_new, alpha, EOS)
            total += 1
            if same_results(item, expected):
                matched += 1
            else:
                failures.append(f"seed={seed} prompt={prompt} K={k} alpha={alpha}: "
                                f"expected {describe(expected)}, got {describe(item)}")
    record_metric("oracle_match_rate", matched / total)
    assert not failures, f"{len(failures)}/{total} items differ; first: {failures[0]}"


@pytest.mark.prompt("Requirements 1-6 for any model and batch: the model is any next_logprobs object")
def test_seeds_and_distributions(solution, inputs, seeds):
    """Public seeds plus the build's secret seed; a vocabulary of 997 (no round size), prompts
    of 1, 4 and 7 tokens, K = 3; two logit distributions: the toy LM as is, and peaked
    (logits scaled by 4, so one token dominates most steps and beams tie less often)."""
    failures = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        prompts = [[int(t) for t in rng.integers(3, 997, n)] for n in (1, 4, 7)]
        for label, sharp in (("flat", 1.0), ("peaked", 4.0)):
            model, got = search(solution, inputs, seed, prompts, 3, 7, 0.6, sharp, vocab_size=997)
            for prompt, item in zip(prompts, got):
                expected = oracle_beam_search(model, prompt, 3, 7, 0.6, EOS)
                if not same_results(item, expected):
                    failures.append(f"seed={seed} {label} prompt={prompt}: expected {describe(expected)}, "
                                    f"got {describe(item)}")
    assert not failures, f"{len(failures)} items differ; first: {failures[0]}"


@pytest.mark.prompt("Requirement 1 and Deliver: Test 2, per-batch independence")
@pytest.mark.trap("cross_batch_pooling")
def test_batch_equals_solo_runs(solution, inputs):
    # The required check: prompt lengths 3 and 5, K = 3, alpha = 0.6. Compared with the
    # solution's own solo runs, so only cross-talk between items can make it fail.
    prompts = make_prompts(7, [3, 5])
    _, batch = search(solution, inputs, 7, prompts, 3, 10, 0.6)
    for i, prompt in enumerate(prompts):
        _, (solo,) = search(solution, inputs, 7, [prompt], 3, 10, 0.6)
        assert same_results(batch[i], solo), (
            f"item {i}: batched {describe(batch[i])} differs from solo {describe(solo)}")


@pytest.mark.prompt("Deliver: Test 1, K=1 and alpha=0 is greedy decoding")
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_width_one_without_penalty_is_greedy(solution, inputs, seed):
    prompts = make_prompts(seed, [3, 6])
    model, got = search(solution, inputs, seed, prompts, 1, 12, 0.0)
    for prompt, item in zip(prompts, got):
        tokens, total = greedy_decode(model, prompt, 12, EOS)
        assert same_results(item, [(tokens, total)]), (
            f"greedy gives {tokens} ({total:.6f}), got {describe(item)}")


@pytest.mark.prompt("Requirement 5: sorted by length-penalised score, best first")
@pytest.mark.trap("unsorted_results")
def test_results_sorted_best_first(solution, inputs):
    prompts = make_prompts(21, [2, 4, 6])
    _, got = search(solution, inputs, 21, prompts, 4, 10, 1.0)
    for item in got:
        scores = [s for _, s in item]
        assert scores == sorted(scores, reverse=True), f"scores not best first: {scores}"


@pytest.mark.prompt("Requirement 4: a beam finishes only by producing EOS")
@pytest.mark.trap("eos_inconsistent")
def test_short_beams_end_with_eos(solution, inputs):
    # A beam shorter than max_new_tokens can only have stopped at EOS, so it must end with
    # it; and no beam may continue after an EOS.
    prompts = make_prompts(31, [3, 5, 4])
    _, got = search(solution, inputs, 31, prompts, 4, 12, 1.0)
    # (With the reference 6 of the 12 beams are short.)
    for item in got:
        for tokens, _ in item:
            assert EOS not in tokens[:-1], f"tokens continue after EOS: {tokens}"
            if len(tokens) < 12:
                assert tokens and tokens[-1] == EOS, f"beam stopped early without EOS: {tokens}"


@pytest.mark.prompt("Requirement 5: score = accumulated_logprob / len(seq)^alpha")
@pytest.mark.parametrize("alpha", [0.6, 1.0])
def test_scores_are_penalised_sums(solution, inputs, alpha, seeds):
    for seed in (41, *seeds):
        prompts = make_prompts(seed, [3, 5])
        model, got = search(solution, inputs, seed, prompts, 3, 10, alpha)
        for prompt, item in zip(prompts, got):
            for tokens, score in item:
                total = sequence_logprob(model, prompt, tokens)
                assert abs(score - total / len(tokens) ** alpha) < 1e-9, (
                    f"seed {seed}: score {score} of {tokens} is not summed logprob {total} / len^{alpha}")


@pytest.mark.prompt("the minimal language model the prompt asks to simulate (vocab 1000)")
@pytest.mark.smoke
def test_default_model_runs(solution, inputs):
    # model=None: the solution's own toy LM (vocab 1000); only the shape of the answer is checked.
    inputs("prompts=[[1,2,3]] K=3 max_new_tokens=5 alpha=0.6 eos=2 model=None")
    got = solution.batched_beam_search([[1, 2, 3]], 3, 5, 0.6, 2)
    assert len(got) == 1
    item = as_plain(got[0])
    assert len(item) == 3, f"expected K=3 beams, got {len(item)}"
    for tokens, score in item:
        assert 1 <= len(tokens) <= 5 and all(0 <= t < 1000 for t in tokens), tokens
        assert np.isfinite(score)
