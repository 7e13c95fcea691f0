"""Signature check of a found entry point against the canonical one (llmbench.signature)."""
from __future__ import annotations

from llmbench.signature import bind_error, differences, params_of, parse_canonical

BEAM = "batched_beam_search(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model=None) -> list"


def test_canonical_signatures_of_every_challenge_parse():
    from pathlib import Path

    from llmbench.challenge import load_challenges

    root = Path(__file__).resolve().parents[2] / "challenges"
    for challenge in load_challenges(root).values():
        for entry in challenge.entry_points:
            if entry.signature:
                assert parse_canonical(entry.signature) is not None, (challenge.id, entry.signature)


def test_argument_order_differs_is_reported():
    def batched_beam_search(model, prompt_token_ids, beam_width, max_new_tokens, alpha=0.6, eos_token_id=2):
        pass

    diff = differences(parse_canonical(BEAM), params_of(batched_beam_search))
    assert any("beam_width is argument 3 here, 2 in the canonical API" in d for d in diff), diff


def test_renamed_parameters_in_place_are_compatible():
    def build_tree_mask(P, tree_parents):
        pass

    assert differences(parse_canonical("build_tree_mask(prompt_len, tree_parents) -> m"),
                       params_of(build_tree_mask)) == []


def test_bind_error_names_what_does_not_bind():
    def f(prompts, beam_width, max_new_tokens, alpha, eos_token_id, model):
        pass

    assert "model" in bind_error(params_of(f), 5, [])
    assert bind_error(params_of(f), 6, []) is None
    assert bind_error(params_of(f), 5, ["model"]) is None
    assert "causal" in bind_error(params_of(f), 6, ["causal"])
