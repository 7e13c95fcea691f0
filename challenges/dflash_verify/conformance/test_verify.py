"""verify_and_accept against autoregressive greedy decoding of a context-sensitive target.

Expected answers come from tree_oracle.expected_verify, which never uses a mask or a row
index. Trap tests judge one mistake at a time: chains where only the walk's end can go
wrong, models that ignore or check the mask (support.HashTargetModel mask_policy), and
comparisons restricted to what the trap changes. Each trap test also proves, with
tree_oracle.variant_walk, that its cases separate the wrong algorithm from the right one.
"""
import numpy as np
import pytest

from llmbench.conformance import remote
from support import HashTargetModel
from tree_oracle import expected_verify, variant_walk
from tree_shapes import (BONUS_SHAPES, LOGITS_SHAPES, MIXED_SHAPES, SHAPES, SIBLING_SHAPES,
                         SUBTREE_SHAPES, build, random_draft_tree)

V = 24


def _prompts():
    rng = np.random.default_rng(7)
    return [(100 + i, [int(t) for t in rng.integers(0, V, n)]) for i, n in enumerate([1, 2, 4, 6, 9])]


PROMPTS = _prompts()  # (model seed, prompt)


def verify(solution, inputs, seed, prompt, tokens, parents, policy="use", temperature=0.0, **extra):
    params = dict(vocab_size=V, seed=seed, **extra)
    if policy != "use":
        params.update(mask_policy=policy, tree=[len(prompt), list(parents)])
    inputs(f"HashTargetModel({params}) prompt={prompt} tree_tokens={tokens} "
           f"tree_parents={parents} temperature={temperature}")
    out = solution.verify_and_accept(list(prompt), list(tokens), list(parents),
                                     remote("HashTargetModel", **params), temperature)
    assert len(out) == 2, f"expected (accepted_tokens, new_token), got {out!r}"
    accepted, new = out
    return [int(t) for t in np.asarray(accepted).reshape(-1)], int(new)


def judge_shapes(solution, inputs, shapes, variants, policy="use", accepted_only=False):
    """Runs every shape on every prompt; asserts the suite separates each variant first."""
    def key(result):
        return result[0] if accepted_only else result

    separated = dict.fromkeys(variants, 0)
    cases = []
    for name in shapes:
        for seed, prompt in PROMPTS:
            model = HashTargetModel(vocab_size=V, seed=seed)
            tokens, parents = build(name, model, prompt, seed)
            want = expected_verify(model, prompt, tokens, parents)
            for v in variants:
                separated[v] += key(variant_walk(model, prompt, tokens, parents, v)) != key(want)
            cases.append((name, seed, prompt, tokens, parents, want))
    for v, count in separated.items():
        assert count > 0, f"suite error: no case separates the '{v}' mistake"
    failures = []
    for name, seed, prompt, tokens, parents, want in cases:
        got = verify(solution, inputs, seed, prompt, tokens, parents, policy)
        if key(got) != key(want):
            failures.append(f"{name} prompt={prompt} tokens={tokens} parents={parents}: "
                            f"expected {key(want)}, got {key(got)}")
    assert not failures, f"{len(failures)}/{len(cases)} cases wrong; first: {failures[0]}"


@pytest.mark.smoke
def test_chain_fully_accepted(solution, inputs):
    seed, prompt = PROMPTS[2]
    model = HashTargetModel(vocab_size=V, seed=seed)
    tokens, parents = build("chain_all_accepted", model, prompt, seed)
    greedy = model.greedy_decode(prompt, 6)
    assert verify(solution, inputs, seed, prompt, tokens, parents) == (greedy[:5], greedy[5])


def test_matches_autoregressive_greedy(solution, inputs, record_metric):
    """The golden rule on every shape and prompt: emitted tokens = greedy decoding."""
    matched, failures = 0, []
    for name in SHAPES:
        for seed, prompt in PROMPTS:
            model = HashTargetModel(vocab_size=V, seed=seed)
            tokens, parents = build(name, model, prompt, seed)
            want = expected_verify(model, prompt, tokens, parents)
            greedy = model.greedy_decode(prompt, len(want[0]) + 1)
            assert want[0] + [want[1]] == greedy, "suite error: oracle disagrees with greedy decoding"
            got = verify(solution, inputs, seed, prompt, tokens, parents)
            if got == want:
                matched += 1
            else:
                failures.append(f"{name} prompt={prompt} tokens={tokens} parents={parents}: "
                                f"expected {want}, got {got}")
    total = len(SHAPES) * len(PROMPTS)
    record_metric("greedy_match_rate", matched / total)
    assert not failures, f"{len(failures)}/{total} cases differ from greedy decoding; first: {failures[0]}"


@pytest.mark.trap("logits_index")
def test_node_judged_by_parent_row(solution, inputs):
    # The model ignores the mask it gets (uses the right one), and only the accepted path is
    # compared: a mask or bonus mistake cannot fail this test.
    judge_shapes(solution, inputs, LOGITS_SHAPES, ["row_i_minus_1", "row_by_depth", "row_own"],
                 policy="ignore", accepted_only=True)


@pytest.mark.trap("rejected_subtree")
def test_rejected_subtree_is_dropped(solution, inputs):
    # Chains whose rejected node is followed by the target's own continuation of it.
    judge_shapes(solution, inputs, SUBTREE_SHAPES, ["keep_rejected_subtree"], accepted_only=True)


@pytest.mark.trap("sibling_after_accept")
def test_later_sibling_with_right_token(solution, inputs):
    judge_shapes(solution, inputs, SIBLING_SHAPES, ["first_child_only"], policy="ignore",
                 accepted_only=True)


@pytest.mark.trap("bonus_token")
def test_bonus_and_correction_token(solution, inputs):
    # Chains: all accepted (bonus after a leaf), rejected at the end, rejected at once, empty.
    judge_shapes(solution, inputs, BONUS_SHAPES, ["bonus_from_rejected_row", "bonus_from_last_row"])


@pytest.mark.trap("sibling_mask")
def test_forward_pass_gets_tree_mask(solution, inputs):
    # The model raises unless the mask it receives is exactly the tree mask.
    for name in ["star", "accepted_then_offpath_sibling", "deep_tree", "duplicates_across_branches"]:
        for seed, prompt in PROMPTS[:3]:
            model = HashTargetModel(vocab_size=V, seed=seed)
            tokens, parents = build(name, model, prompt, seed)
            verify(solution, inputs, seed, prompt, tokens, parents, policy="check")


def test_multi_cycle_generation_equals_greedy(solution, inputs, record_metric):
    """Repeated verification on a growing prompt reproduces autoregressive decoding."""
    n_new, cycles, accepted_total, mismatches = 40, 0, 0, []
    for seed, prompt in PROMPTS[1:4]:
        model = HashTargetModel(vocab_size=V, seed=seed)
        rng = np.random.default_rng(seed)
        seq = list(prompt)
        while len(seq) < len(prompt) + n_new:
            tokens, parents = random_draft_tree(model, seq, rng)
            want = expected_verify(model, seq, tokens, parents)
            got = verify(solution, inputs, seed, seq, tokens, parents)
            if got != want and not mismatches:
                mismatches.append(f"prompt={seq} tokens={tokens} parents={parents}: "
                                  f"expected {want}, got {got}")
            seq += got[0] + [got[1]]
            cycles += 1
            accepted_total += len(got[0])
        generated = seq[len(prompt):]
        greedy = model.greedy_decode(prompt, len(generated))
        assert generated == greedy, (f"seed {seed}: generation diverges from greedy decoding at "
                                     f"token {next(i for i, (a, b) in enumerate(zip(generated, greedy)) if a != b)}; "
                                     f"{mismatches[:1]}")
    record_metric("accepted_per_cycle", accepted_total / cycles)
    record_metric("tokens_per_cycle", (accepted_total + cycles) / cycles)
    assert not mismatches, mismatches[0]


def test_single_forward_pass(solution, inputs):
    # The target model refuses a second forward call within one verification.
    seed, prompt = PROMPTS[3]
    model = HashTargetModel(vocab_size=V, seed=seed)
    tokens, parents = build("deep_tree", model, prompt, seed)
    got = verify(solution, inputs, seed, prompt, tokens, parents, max_forward_calls=1)
    assert got == expected_verify(model, prompt, tokens, parents)


def test_sampling_returns_a_tree_path(solution, inputs):
    # temperature > 0: whatever is sampled, the accepted tokens must follow a root-to-node
    # path of the tree, and the new token must be a vocabulary id.
    for i, name in enumerate(MIXED_SHAPES):
        seed, prompt = PROMPTS[i % len(PROMPTS)]
        model = HashTargetModel(vocab_size=V, seed=seed)
        tokens, parents = build(name, model, prompt, seed)
        accepted, new = verify(solution, inputs, seed, prompt, tokens, parents, temperature=0.8)
        node = -1
        for tok in accepted:
            node = next((c for c in range(len(tokens)) if parents[c] == node and tokens[c] == tok), None)
            assert node is not None, f"{name}: accepted {accepted} is not a path of tokens={tokens} parents={parents}"
        assert 0 <= new < V
