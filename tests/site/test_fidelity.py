"""The fidelity page, the challenge page's study-prompt and fidelity sections, and
data/fidelity.toml validation."""
from __future__ import annotations

import shutil

import pytest

from llmbench.errors import ContentError
from llmbench.fidelity import load_fidelity
from llmbench.schema import PhaseResult
from llmbench.schema import TestRecord as Record
from llmbench.site import pages
from llmbench.site.data import load_site_data
from llmbench.site.links import SiteLinks
from llmbench.site.context import Context
from llmbench.store import ResultStore

FIDELITY = '''
[alpha]
prompt = "The same text for every model."
asked = "Tiled attention with <b>online</b> softmax."
checks = "Outputs against naive attention."

[[alpha.differences]]
topic = "Padding mask"
study = "Not offered."
llmbench = "An optional key_padding_mask."
why = "Reaches the masked-tile state."
handling = "beyond"

[[alpha.contradictions]]
rule = "The pseudo-code slices the wrong row."
other = "The golden rule."
follows = "The golden rule."
'''
# The study's prompt as a model received it: markup in it must stay text.
STUDY_PROMPT = "Implement attend.\n<script>alert('prompt')</script>\n<b>bold</b> & [link](x.md)\n"


@pytest.fixture(scope="module")
def root(synthetic_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("fidelity") / "proj"
    shutil.copytree(synthetic_root, root)
    (root / "data/fidelity.toml").write_text(FIDELITY)
    (root / "solutions/synthetic-a/alpha/PROMPT.md").write_text(STUDY_PROMPT)
    (root / "solutions/synthetic-b/alpha/PROMPT.md").write_text(STUDY_PROMPT.rstrip("\n"))  # same text
    store = ResultStore(root / "results")
    ref = store.controls()["alpha"]["reference"]
    ref.phases["conformance"] = PhaseResult(name="conformance", status="ok", beyond_counts={"passed": 1, "failed": 1},
                                            counts={"passed": 2}, tests=[
        Record(name="test_small", outcome="passed", tier="prompt", tier_note="Deliver: the small test"),
        Record(name="test_rescale", outcome="passed", trap="t_one", tier="prompt", tier_note="Requirement 1"),
        Record(name="test_padding[4]", outcome="passed", tier="beyond", tier_note="a padding mask is ours"),
        Record(name="test_padding[8]", outcome="failed", tier="beyond", tier_note="a padding mask is ours")])
    store.write(ref)
    return root


def render(data, make, page):
    stash = []
    ctx = Context(data, SiteLinks(page), raw=lambda h: stash.append(h) or f"RAW{len(stash) - 1}")
    md = make(ctx)
    return md, "".join(stash)


def test_challenge_page_shows_the_study_prompt_as_text_with_its_source(root):
    data = load_site_data(root)
    md, raw = render(data, lambda ctx: pages.challenge_page(data, "alpha", ctx), "challenges/alpha.md")
    assert "## The study's prompt" in md and "## Fidelity to the study" in md
    # one entry for both models (a missing final newline is the same prompt), labelled and linked
    assert "as given to synthetic-a, synthetic-b" in md
    assert "https://example.org/synthetic-study/blob/feedbee/synthetic-a/alpha/PROMPT.md" in md
    assert "the published study's words, not llmbench's" in md
    assert "<script>" not in md + raw and "&lt;script&gt;alert(&#x27;prompt&#x27;)&lt;/script&gt;" in raw
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; [link](x.md)" in raw
    assert md.index("## The study's prompt") < md.index("## Entry points")  # next to the canonical API
    assert "Tiled attention with &lt;b&gt;online&lt;/b&gt; softmax." in md


def test_fidelity_section_lists_differences_contradictions_and_tiers(root):
    data = load_site_data(root)
    md, _ = render(data, lambda ctx: pages.challenge_page(data, "alpha", ctx), "challenges/alpha.md")
    section = md[md.index("## Fidelity to the study"):]
    assert "Padding mask" in section and "beyond the prompt: measured, never a trap" in section
    assert "The pseudo-code slices the wrong row." in section and "**The suite follows:** The golden rule." in section
    row = next(line for line in section.splitlines() if "rescale" in line)
    assert "| prompt | Requirement 1 |" in row and "one</code> |" in row
    assert sum("padding</code> | beyond the prompt |" in line for line in section.splitlines()) == 1  # cases once


def test_fidelity_page_covers_each_documented_challenge(root):
    data = load_site_data(root)
    md, _ = render(data, lambda ctx: pages.fidelity_page(data, ctx), "fidelity.md")
    assert md.startswith("# Fidelity to the study")
    assert "## Alpha Attention {#fidelity-alpha}" in md
    assert "(2 prompt tests, 1 beyond the prompt in the reference run.)" in md
    assert "beta" not in md.split("## Alpha Attention")[1]  # no entry for beta: no section


def test_without_an_imported_copy_the_page_says_how_to_bring_it_in(synthetic_data):
    md, _ = render(synthetic_data, lambda ctx: pages.challenge_page(synthetic_data, "beta", ctx), "challenges/beta.md")
    if "## The study's prompt" in md:
        assert "make study" in md


@pytest.mark.parametrize("text,fragment", [
    ("[nope]\nprompt = 'x'\nasked = 'x'\nchecks = 'x'\n", "[nope] is not a challenge"),
    ("[alpha]\nprompt = 'x'\nasked = ''\nchecks = 'x'\n", "[alpha] asked must be a non-empty string"),
    ("[alpha]\nprompt = 'x'\nasked = 'x'\nchecks = 'x'\n[[alpha.differences]]\ntopic = 't'\nstudy = 's'\n"
     "llmbench = 'l'\nwhy = 'w'\nhandling = 'maybe'\n", "handling 'maybe' is not one of"),
    ("[alpha]\nprompt = 'x'\nasked = 'x'\nchecks = 'x'\ncolour = 'red'\n", "unknown keys ['colour']"),
])
def test_bad_fidelity_entries_fail_with_the_file_named(tmp_path, text, fragment):
    path = tmp_path / "fidelity.toml"
    path.write_text(text)
    with pytest.raises(ContentError) as err:
        load_fidelity(path, ["alpha", "beta"])
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_the_repository_documents_every_challenge():
    from pathlib import Path

    from llmbench.challenge import load_challenges

    repo = Path(__file__).resolve().parents[2]
    ids = list(load_challenges(repo / "challenges"))
    fid = load_fidelity(repo / "data" / "fidelity.toml", ids)
    assert set(fid) == set(ids)
    assert all(f.differences for f in fid.values())
    assert fid["dflash_verify"].contradictions, "the logits[len(generated):] contradiction must be documented"


def test_results_table_has_a_beyond_the_prompt_column_and_tests_show_their_tier(root):
    from llmbench.site.directives import render as render_directive
    from llmbench.site.markers import Directive

    data = load_site_data(root)
    md, _ = render(data, lambda ctx: render_directive(Directive("results", {"challenge": "alpha"}, 0, False), ctx),
                   "challenges/alpha.md")
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert "| Traps | Beyond the prompt |" in header
    ref_row = next(line for line in md.splitlines() if line.startswith("| reference (llmbench)"))
    assert "1/2" in ref_row and "✗" not in ref_row  # a beyond shortfall is information, never a failure mark
