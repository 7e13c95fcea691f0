"""Scripted scenarios: the test fixes every relevant next-token log-probability exactly.

Each scenario states its expected answer by hand (derived in the comments) and first checks
it against the independent oracle, so a broken scenario fails as a suite error instead of
blaming the solution. Trap tests compare only what their trap changes (see beam_oracle).
"""
import pytest

from llmbench.conformance import remote
from beam_oracle import (as_plain, by_score, describe, oracle_beam_search, same_results,
                         strip_eos)
from support import TableLM

V = 1000
EOS = 2
A, B, C, D, E, F, G, H = range(10, 18)


def table_rules(prompt, table):
    """table: generated-prefix tuple -> {token: logprob}; contexts get the prompt prepended."""
    return [[list(prompt) + list(prefix), [[t, lp] for t, lp in entries.items()]]
            for prefix, entries in table.items()]


def run(solution, inputs, prompts, table, k, max_new, alpha, expected=None, **lm):
    """Runs the solution on a batch; `table` (relative to each prompt) or one table per item.

    With `expected`, first checks that the oracle agrees with the hand-derived answer.
    """
    tables = table if isinstance(table, list) else [table] * len(prompts)
    rules = [r for p, t in zip(prompts, tables) for r in table_rules(p, t)]
    params = dict(vocab_size=V, rules=rules, **lm)
    model = TableLM(**params)
    if expected is not None:
        for p in prompts:
            oracle = oracle_beam_search(model, p, k, max_new, alpha, EOS)
            assert same_results(oracle, expected), f"suite error: scenario gives {describe(oracle)}"
    inputs(f"TableLM vocab={V} {lm} prompts={prompts} K={k} max_new_tokens={max_new} "
           f"alpha={alpha} eos={EOS} table={table}")
    got = solution.batched_beam_search(prompts, k, max_new, alpha, EOS,
                                       model=remote("TableLM", **params))
    assert len(got) == len(prompts), f"expected {len(prompts)} batch items, got {len(got)}"
    return [as_plain(item) for item in got]


def stripped(results):
    return [(strip_eos(t, EOS), s) for t, s in results]


# --- finished_dropped ---------------------------------------------------------------
# alpha = 0 (scores are plain sums), K = 2, three steps.
# Step 1: A -1, B -2. Step 2: A EOS -3 (finished), A C -4, B D -5 -> keep A EOS, A C.
# Step 3: A C E -5 must not push out the frozen A EOS at -3.
RETAIN_TABLE = {(): {A: -1.0, B: -2.0}, (A,): {EOS: -2.0, C: -3.0}, (B,): {D: -3.0},
                (A, C): {E: -1.0}}
# K = 3, five steps: EOS (-1.0, step 1) and A EOS (-1.4, step 2) stay ahead of a continuing
# beam that ends at A C D G H -2.6.
RETAIN_LONG_TABLE = {(): {EOS: -1.0, A: -0.8, B: -3.0}, (A,): {EOS: -0.6, C: -1.2},
                     (A, C): {D: -0.3, F: -2.0}, (A, C, D): {G: -0.2},
                     (A, C, D, G): {H: -0.1}}
RETAIN_CASES = {
    "eos_at_-3_beats_-4_then_-5": (RETAIN_TABLE, 2, 3, [([A, EOS], -3.0), ([A, C, E], -5.0)]),
    "two_finished_over_five_steps": (RETAIN_LONG_TABLE, 3, 5,
                                     [([EOS], -1.0), ([A, EOS], -1.4), ([A, C, D, G, H], -2.6)]),
}


@pytest.mark.prompt("Requirement 4 and Deliver: Test 3, the EOS retention test")
@pytest.mark.trap("finished_dropped")
@pytest.mark.parametrize("case", list(RETAIN_CASES))
def test_finished_beams_stay_in_pool(solution, inputs, case):
    # Retention only: which token sequences come back (EOS stripped), never their scores or
    # order, so an EOS-scoring or sorting bug is judged by its own tests. The trap's symptom
    # is a finished beam missing from the answer.
    table, k, max_new, expected = RETAIN_CASES[case]
    (got,) = run(solution, inputs, [[5, 6, 7]], table, k, max_new, 0.0, expected)
    returned = [strip_eos(t, EOS) for t, _ in got]
    lost = [t for t, _ in expected if t[-1] == EOS and strip_eos(t, EOS) not in returned]
    assert not lost, f"finished beam(s) {lost} dropped: expected {describe(expected)}, got {describe(got)}"


# --- prompt_in_length -----------------------------------------------------------------
# No EOS, two steps, K = 2: A C (-0.7) and B E (-1.7) survive; their reported scores are
# sum / 2**alpha whatever the prompt length (2 or 12 tokens here).
TWO_STEP_TABLE = {(): {A: -0.3, B: -1.5}, (A,): {C: -0.4, D: -1.6}, (B,): {E: -0.2}}


@pytest.mark.prompt("Requirement 3: generated_length excludes the prompt")
@pytest.mark.trap("prompt_in_length")
@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_reported_score_uses_generated_length(solution, inputs, alpha):
    # The trap's symptom: scores that depend on the prompt's length. Other wrong scores are
    # score arithmetic of another kind, judged by the EOS and penalty tests.
    expected = [([A, C], -0.7 / 2 ** alpha), ([B, E], -1.7 / 2 ** alpha)]
    prompts = [[40, 41], list(range(50, 62))]
    got = run(solution, inputs, prompts, TWO_STEP_TABLE, 2, 2, alpha, expected)
    scored = [{tuple(t): sc for t, sc in item} for item in got]
    same_tokens = all(set(s) == {(A, C), (B, E)} for s in scored)
    if same_tokens and any(abs(scored[0][t] - scored[1][t]) > 1e-9 for t in scored[0]):
        raise AssertionError(f"the scores change with the prompt's length: {describe(got[0])} after 2 prompt "
                             f"tokens, {describe(got[1])} after 12; expected {describe(expected)} for both")
    for prompt, item in zip(prompts, got):
        if not same_results(by_score(item), expected):
            pytest.skip(f"prompt of {len(prompt)} tokens: expected {describe(expected)}, got {describe(item)}, the "
                        "same whatever the prompt's length: not this trap's symptom")


# alpha = 1, K = 2, a 10-token prompt. A EOS finishes at step 2 (-2.85 / 2 = -1.425);
# B C EOS at step 3 (-4.2 / 3 = -1.4) must rank above it. Counting the prompt gives
# -2.85 / 12 = -0.24 against -4.2 / 13 = -0.32: the order flips.
FINISHED_LENGTHS_TABLE = {(): {A: -0.9, B: -1.0}, (A,): {EOS: -1.95}, (B,): {C: -1.0},
                          (B, C): {EOS: -2.2}}


@pytest.mark.prompt("Requirement 3: generated_length excludes the prompt")
@pytest.mark.trap("prompt_in_length")
def test_finished_beams_of_different_lengths(solution, inputs):
    expected = [([B, C, EOS], -1.4), ([A, EOS], -1.425)]
    (got,) = run(solution, inputs, [list(range(30, 40))], FINISHED_LENGTHS_TABLE, 2, 4, 1.0,
                 expected)
    order = [t for t, _ in stripped(by_score(got))]
    if [A] not in order or [B, C] not in order:
        pytest.skip("a beam is missing: that is finished_dropped's symptom, judged there")
    if order.index([B, C]) < order.index([A]):
        return
    # The order flipped. It is this trap only when the scores are those of a length that
    # counts the prompt (or are right, so the ranking alone counted it); other wrong scores
    # are an EOS or scoring bug, judged by those tests.
    sums = {(B, C): -4.2, (A,): -2.85}
    reported = {tuple(strip_eos(t, EOS)): sc for t, sc in got}
    lengths = {(B, C): 3, (A,): 2}
    with_prompt = all(abs(reported[t] - sums[t] / (10 + lengths[t])) < 1e-9 for t in sums)
    right = all(abs(reported[t] - sums[t] / lengths[t]) < 1e-9 for t in sums)
    if not (with_prompt or right):
        pytest.skip(f"scores {describe(got)} match neither the generated nor the full length: a scoring "
                    "bug, judged by the EOS and penalty tests")
    raise AssertionError(f"B C EOS (-4.2 over 3 tokens) must outrank A EOS (-2.85 over 2); got {describe(got)}")


# --- penalty_on_accumulated -----------------------------------------------------------
# No EOS, K = 2, three steps. After step 2: a c (sum -1.0) and b d (sum -3.0).
# Step 3 candidates, all of length 3, rank by their sums: a c e -3.0, a c f -3.1, b d g -3.5.
# Carrying the penalised score instead (-1.0 / 2**alpha, -3.0 / 2**alpha) makes b d g win.
ACCUMULATE_TABLE = {(): {A: -0.5, B: -1.2}, (A,): {C: -0.5}, (B,): {D: -1.8},
                    (A, C): {E: -2.0, F: -2.1}, (B, D): {G: -0.5}}


@pytest.mark.prompt("Requirement 3: the accumulated logprob is never modified by the penalty")
@pytest.mark.trap("penalty_on_accumulated")
@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_running_logprob_is_not_penalised(solution, inputs, alpha):
    expected = [([A, C, E], -3.0 / 3 ** alpha), ([A, C, F], -3.1 / 3 ** alpha)]
    (got,) = run(solution, inputs, [[3, 1, 4]], ACCUMULATE_TABLE, 2, 3, alpha, expected)
    assert sorted(t for t, _ in got) == [[A, C, E], [A, C, F]], (
        f"expected beams A C E and A C F, got {describe(got)}")


# --- unsorted_results -----------------------------------------------------------------
# alpha = 0, K = 2, two steps: the unfinished A C (-0.7) is better than the finished
# A EOS (-1.0) created in the same step, so it must come first.
SORT_TABLE = {(): {A: -0.1, B: -3.0}, (A,): {C: -0.6, EOS: -0.9}}


@pytest.mark.prompt("Requirement 5: sorted best first")
@pytest.mark.trap("unsorted_results")
def test_best_first_when_unfinished_beam_leads(solution, inputs):
    # Ordering only: the answer must be sorted by its own scores. When it is, but the scores
    # themselves are wrong (an EOS-scoring bug puts A EOS first), that is not this trap.
    expected = [([A, C], -0.7), ([A, EOS], -1.0)]
    (got,) = run(solution, inputs, [[9, 9]], SORT_TABLE, 2, 2, 0.0, expected)
    scores = [sc for _, sc in got]
    assert scores == sorted(scores, reverse=True), f"not sorted best first by its own scores: {describe(got)}"
    if [t for t, _ in stripped(got)] != [[A, C], [A]] and not same_results(stripped(by_score(got)), stripped(expected)):
        pytest.skip(f"sorted by its own scores, but they differ from the expected ones ({describe(got)}): "
                    "a scoring bug, judged by the EOS and penalty tests")


@pytest.mark.prompt("Requirements 4 and 5: an EOS beam is a finished sequence of generated tokens")
# --- eos_inconsistent -----------------------------------------------------------------
@pytest.mark.trap("eos_inconsistent")
def test_eos_at_first_step_is_returned(solution, inputs):
    # One step, alpha = 0: the EOS beam is the single token [EOS] with score -0.5.
    expected = [([EOS], -0.5), ([A], -1.0)]
    (got,) = run(solution, inputs, [[7]], {(): {EOS: -0.5, A: -1.0}}, 2, 1, 0.0, expected)
    assert same_results(by_score(got), expected), f"expected {describe(expected)}, got {describe(got)}"


# alpha = 1, K = 2, two steps, all candidates of length 2 (EOS counted):
#   A EOS -2.0 / 2 = -1.0 (finished), B C -2.2 / 2 = -1.1, A D -2.4 / 2 = -1.2.
# Not counting EOS would score A EOS at -2.0 / 1 and drop it for A D.
EOS_LENGTH_TABLE = {(): {A: -1.0, B: -1.1}, (A,): {EOS: -1.0, D: -1.4}, (B,): {C: -1.1}}


@pytest.mark.prompt("Requirement 5: score = accumulated_logprob / len(seq)^alpha, seq including its EOS")
@pytest.mark.trap("eos_inconsistent")
def test_eos_counts_toward_length(solution, inputs):
    expected = [([A, EOS], -1.0), ([B, C], -1.1)]
    (got,) = run(solution, inputs, [[8, 8, 8]], EOS_LENGTH_TABLE, 2, 2, 1.0, expected)
    assert [t for t, _ in by_score(got)] == [[A, EOS], [B, C]], (
        f"expected beams [A, EOS] then [B, C]; got {describe(got)}")


# --- cross_batch_pooling --------------------------------------------------------------
# Item 0 is nearly deterministic, item 1 nearly uniform: a pool shared by the batch hands
# item 1's slots to item 0's candidates (or the reverse). Compared with the solution's own
# solo runs, so only cross-talk can make this fail.
PEAKED_TABLE = {(): {A: -0.01}, (A,): {B: -0.01}, (A, B): {C: -0.01}, (A, B, C): {D: -0.01}}


@pytest.mark.prompt("Requirement 1: each batch item's beams are independent")
@pytest.mark.trap("cross_batch_pooling")
def test_items_do_not_share_a_pool(solution, inputs):
    peaked, flat = [1, 1, 1], [2, 2, 2, 2, 2]
    lm = dict(default_sharpness=0.3)
    tables = [PEAKED_TABLE, {}]  # the flat item has no rules: near-uniform default rows
    batch = run(solution, inputs, [peaked, flat], tables, 3, 4, 0.6, **lm)
    for i, prompt in enumerate([peaked, flat]):
        (solo,) = run(solution, inputs, [prompt], [tables[i]], 3, 4, 0.6, **lm)
        assert same_results(batch[i], solo), (
            f"item {i}: in the batch {describe(batch[i])}, alone {describe(solo)}")
