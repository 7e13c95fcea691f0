"""verify_and_accept against autoregressive greedy decoding of a context-sensitive target.

The study's rules decide (tier "prompt"): at temperature 0 the emitted tokens (accepted
tokens, then the new token when there is one) must equal autoregressive greedy decoding,
every emitted token but the last must lie on one root-to-node path, and on a chain every
matching node is accepted up to the first mismatch. Stopping at the first rejection is
allowed, and so is emitting no bonus token after a fully accepted path
(tree_oracle.emitted_problem, chain_problem).

llmbench's canonical answer goes further (tier "beyond"): later siblings are tried after a
rejection, so the longest agreeing path is accepted, and a bonus token follows a fully
accepted path. Those are measured, never a trap.

Trap tests judge one mistake at a time with models that ignore or check the mask
(support.HashTargetModel mask_policy), and prove with tree_oracle.variant_walk that their
cases make the wrong algorithm break the study's rules.
"""
import numpy as np
import pytest

from llmbench.conformance import SolutionError, expect_structure, remote
from support import HashTargetModel
from tree_oracle import chain_problem, emitted_problem, expected_verify, variant_walk
from tree_shapes import (BONUS_SHAPES, LOGITS_SHAPES, MIXED_SHAPES, SHAPES,
                         SUBTREE_SHAPES, build, random_draft_tree)

V = 24


def _prompts():
    rng = np.random.default_rng(7)
    return [(100 + i, [int(t) for t in rng.integers(0, V, n)]) for i, n in enumerate([1, 2, 4, 6, 9])]


PROMPTS = _prompts()  # (model seed, prompt)


def verify(solution, inputs, seed, prompt, tokens, parents, policy="use", temperature=0.0, **extra):
    """-> (accepted, new): new is None when the solution emits no token after the path."""
    params = {"vocab_size": V, "seed": seed, **extra}
    if policy != "use":
        params.update(mask_policy=policy, tree=[len(prompt), list(parents)])
    inputs(f"HashTargetModel({params}) prompt={prompt} tree_tokens={tokens} "
           f"tree_parents={parents} temperature={temperature}")
    out = solution.verify_and_accept(list(prompt), list(tokens), list(parents),
                                     remote("HashTargetModel", **params), temperature)
    # The pair's structure is the calling convention (an adapter can translate it); its
    # values are the behaviour.
    expect_structure(isinstance(out, (tuple, list)) and len(out) == 2,
                     f"expected (accepted_tokens, new_token), got {out!r}"[:300])
    accepted, new = out
    expect_structure(new is None or np.ndim(new) == 0, f"new_token must be one token id or None, got {new!r}"[:300])
    return [int(t) for t in np.asarray(accepted).reshape(-1)], (None if new is None else int(new))


def emitted(result):
    accepted, new = result
    return accepted + ([] if new is None else [new])


def cases(shapes):
    for name in shapes:
        for seed, prompt in PROMPTS:
            model = HashTargetModel(vocab_size=V, seed=seed)
            tokens, parents = build(name, model, prompt, seed)
            yield name, seed, prompt, model, tokens, parents


def judge_shapes(solution, inputs, shapes, variants, policy="use", chains=False):
    """Every shape on every prompt against the study's rules; asserts first that each
    variant (a known wrong algorithm) breaks those rules on at least one case."""
    def problem(model, prompt, tokens, parents, out):
        why = emitted_problem(model, prompt, tokens, parents, out)
        return why or (chain_problem(model, prompt, tokens, parents, out) if chains else "")

    all_cases = list(cases(shapes))
    for v in variants:
        broken = sum(bool(problem(m, p, t, par, emitted(variant_walk(m, p, t, par, v))))
                     for _, _, p, m, t, par in all_cases)
        assert broken > 0, f"suite error: no case separates the '{v}' mistake from the study's rules"
    failures = []
    for name, seed, prompt, model, tokens, parents in all_cases:
        why = problem(model, prompt, tokens, parents, emitted(verify(solution, inputs, seed, prompt, tokens,
                                                                     parents, policy)))
        if why:
            failures.append(f"{name} prompt={prompt} tokens={tokens} parents={parents}: {why}")
    assert not failures, f"{len(failures)}/{len(all_cases)} cases wrong; first: {failures[0]}"


@pytest.mark.prompt("4d and the golden test: a chain matching greedy decoding is accepted")
@pytest.mark.smoke
def test_chain_fully_accepted(solution, inputs):
    seed, prompt = PROMPTS[2]
    model = HashTargetModel(vocab_size=V, seed=seed)
    tokens, parents = build("chain_all_accepted", model, prompt, seed)
    greedy = model.greedy_decode(prompt, 6)
    got = emitted(verify(solution, inputs, seed, prompt, tokens, parents))
    assert got in (greedy[:5], greedy[:6]), f"expected {greedy[:5]} (and optionally {greedy[5]}), got {got}"


@pytest.mark.prompt("the golden test (section 6): temperature 0 equals autoregressive greedy decoding")
def test_matches_autoregressive_greedy(solution, inputs, record_metric):
    """The golden rule on every shape and prompt."""
    matched, failures = 0, []
    all_cases = list(cases(SHAPES))
    for name, seed, prompt, model, tokens, parents in all_cases:
        try:
            got = emitted(verify(solution, inputs, seed, prompt, tokens, parents))
        except SolutionError as exc:  # one case's crash is that case's failure; the rate covers the rest
            failures.append(f"{name} prompt={prompt} tokens={tokens} parents={parents}: {exc}")
            continue
        why = emitted_problem(model, prompt, tokens, parents, got)
        if why:
            failures.append(f"{name} prompt={prompt} tokens={tokens} parents={parents}: {why}")
        else:
            matched += 1
    record_metric("greedy_match_rate", matched / len(all_cases))
    assert not failures, f"{len(failures)}/{len(all_cases)} cases break the golden rule; first: {failures[0]}"


@pytest.mark.prompt("4b with the golden test: a node is judged by the prediction for its position")
@pytest.mark.trap("logits_index")
def test_node_judged_by_parent_row(solution, inputs):
    # The model ignores the mask it gets (uses the right one): a mask mistake cannot fail this.
    judge_shapes(solution, inputs, LOGITS_SHAPES, ["row_i_minus_1", "row_by_depth", "row_own"], policy="ignore")


@pytest.mark.prompt("4a: a rejected node's whole subtree is invalidated")
@pytest.mark.trap("rejected_subtree")
def test_rejected_subtree_is_dropped(solution, inputs):
    # Chains whose rejected node is followed by the target's own continuation of it.
    judge_shapes(solution, inputs, SUBTREE_SHAPES, ["keep_rejected_subtree"], policy="ignore", chains=True)


@pytest.mark.prompt("4d: at a rejection the target's greedy prediction replaces the node")
@pytest.mark.trap("bonus_token")
def test_bonus_and_correction_token(solution, inputs):
    # Chains: all accepted (a bonus token is optional), rejected at the end, rejected at once.
    judge_shapes(solution, inputs, BONUS_SHAPES, ["bonus_from_rejected_row", "bonus_from_last_row"],
                 policy="ignore", chains=True)


@pytest.mark.prompt("3: one forward pass with the tree attention mask applied")
@pytest.mark.trap("sibling_mask")
def test_forward_pass_gets_tree_mask(solution, inputs):
    # The model raises unless the mask it receives is exactly the tree mask.
    for name in ["star", "accepted_then_offpath_sibling", "deep_tree", "duplicates_across_branches"]:
        for seed, prompt in PROMPTS[:3]:
            model = HashTargetModel(vocab_size=V, seed=seed)
            tokens, parents = build(name, model, prompt, seed)
            verify(solution, inputs, seed, prompt, tokens, parents, policy="check")


@pytest.mark.prompt("5 and Deliver: Test 3, consecutive cycles reproduce autoregressive decoding")
def test_multi_cycle_generation_equals_greedy(solution, inputs, record_metric):
    """The study's generation loop: emitted tokens are appended; when a cycle emits nothing
    the loop itself falls back to the target's greedy token."""
    n_new, cycles, accepted_total, emitted_total, problems = 40, 0, 0, 0, []
    for seed, prompt in PROMPTS[1:4]:
        model = HashTargetModel(vocab_size=V, seed=seed)
        rng = np.random.default_rng(seed)
        seq = list(prompt)
        while len(seq) < len(prompt) + n_new:
            tokens, parents = random_draft_tree(model, seq, rng)
            accepted, new = verify(solution, inputs, seed, seq, tokens, parents)
            out = accepted + ([] if new is None else [new])
            why = emitted_problem(model, seq, tokens, parents, out)
            if why and not problems:
                problems.append(f"prompt={seq} tokens={tokens} parents={parents}: {why}")
            seq += out or model.greedy_decode(seq, 1)
            cycles += 1
            accepted_total += min(len(accepted), len(out))
            emitted_total += max(len(out), 1)
        generated = seq[len(prompt):]
        greedy = model.greedy_decode(prompt, len(generated))
        assert generated == greedy, (f"seed {seed}: generation diverges from greedy decoding at "
                                     f"token {next(i for i, (a, b) in enumerate(zip(generated, greedy)) if a != b)}; "
                                     f"{problems[:1]}")
    record_metric("accepted_per_cycle", accepted_total / cycles)
    record_metric("tokens_per_cycle", emitted_total / cycles)
    assert not problems, problems[0]


@pytest.mark.prompt("the golden test (section 6) on any vocabulary and draft tree")
def test_seeds_and_distributions(solution, inputs, seeds):
    """Public seeds plus the build's secret seed; a vocabulary of 37 (no round size), a 5-token
    prompt and 12 generated tokens per seed; two draft distributions: a good drafter (hit rate
    0.9: long accepted paths) and a poor one (hit rate 0.3: early rejections)."""
    vocab, problems = 37, []
    for seed in seeds:
        for label, hit_rate in (("good drafter", 0.9), ("poor drafter", 0.3)):
            model = HashTargetModel(vocab_size=vocab, seed=seed)
            rng = np.random.default_rng(seed)
            prompt = [int(t) for t in rng.integers(0, vocab, 5)]
            seq = list(prompt)
            while len(seq) < len(prompt) + 12:
                tokens, parents = random_draft_tree(model, seq, rng, hit_rate=hit_rate)
                out = emitted(verify(solution, inputs, seed, seq, tokens, parents, vocab_size=vocab))
                why = emitted_problem(model, seq, tokens, parents, out)
                if why:
                    problems.append(f"seed {seed}, {label}: prompt={seq} tokens={tokens} parents={parents}: {why}")
                    break
                seq += out or model.greedy_decode(seq, 1)
    assert not problems, f"{len(problems)} runs wrong; first: {problems[0]}"


@pytest.mark.prompt("3: ONE forward pass through the target model per verification")
def test_single_forward_pass(solution, inputs):
    # The target model refuses a second forward call within one verification.
    seed, prompt = PROMPTS[3]
    model = HashTargetModel(vocab_size=V, seed=seed)
    tokens, parents = build("deep_tree", model, prompt, seed)
    got = emitted(verify(solution, inputs, seed, prompt, tokens, parents, max_forward_calls=1))
    why = emitted_problem(model, prompt, tokens, parents, got)
    assert not why, why


# --- beyond the prompt: llmbench's longer acceptance and bonus token ------------------------

@pytest.mark.beyond("the longest agreeing path (later siblings tried after a rejection) plus a bonus token: "
                    "the prompt stops at the first rejection (4d) and asks for no bonus token")
def test_longest_path_and_bonus_token(solution, inputs, record_metric):
    emitted_total, longest_total, failures = 0, 0, []
    all_cases = list(cases(SHAPES))
    for name, seed, prompt, model, tokens, parents in all_cases:
        accepted, new = expected_verify(model, prompt, tokens, parents)
        want = accepted + [new]
        got = emitted(verify(solution, inputs, seed, prompt, tokens, parents, policy="ignore"))
        if not emitted_problem(model, prompt, tokens, parents, got):
            emitted_total += len(got)  # tokens a wrong answer emits do not count
        longest_total += len(want)
        if got != want:
            failures.append(f"{name} prompt={prompt} tokens={tokens} parents={parents}: "
                            f"expected {want}, emitted {got}")
    record_metric("emitted_vs_longest", emitted_total / longest_total)
    assert not failures, f"{len(failures)}/{len(all_cases)} cases emit less than the longest path and a bonus token; first: {failures[0]}"


@pytest.mark.beyond("temperature > 0: the prompt defines greedy acceptance (temperature 0) only")
def test_sampling_returns_a_tree_path(solution, inputs):
    # Whatever is sampled, the accepted tokens must follow a root-to-node path of the tree,
    # and the new token must be a vocabulary id.
    for i, name in enumerate(MIXED_SHAPES):
        seed, prompt = PROMPTS[i % len(PROMPTS)]
        model = HashTargetModel(vocab_size=V, seed=seed)
        tokens, parents = build(name, model, prompt, seed)
        accepted, new = verify(solution, inputs, seed, prompt, tokens, parents, temperature=0.8)
        node = -1
        for tok in accepted:
            node = next((c for c in range(len(tokens)) if parents[c] == node and tokens[c] == tok), None)
            assert node is not None, f"{name}: accepted {accepted} is not a path of tokens={tokens} parents={parents}"
        assert new is None or 0 <= new < V
