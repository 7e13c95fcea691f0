"""The repository's own content: study ids usable as model ids, one deep dive per challenge
that explains every trap, and analysis pages whose directives all render."""
from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest

from llmbench.challenge import load_challenge
from llmbench.scaffold import PRIVATE, prompt_files
from llmbench.solution import check_model_id
from llmbench.study import load_study

REPO = Path(__file__).resolve().parents[2]
ANALYSIS = REPO / "analysis"
# Typed result figures look like this; tolerances and shapes in prose are written without
# a decimal exponent or are part of the challenge's definition, so only flag what is
# clearly a measured value next to a unit of the metrics.
TYPED_FIGURE = re.compile(r"\b\d+(\.\d+)?\s*(GB/s|ms)\b")


def complete_challenges():
    """Challenge folders that are finished enough to load (others are being written)."""
    out = {}
    for folder in sorted((REPO / "challenges").iterdir()):
        if (folder / "challenge.toml").exists():
            out[folder.name] = load_challenge(folder)
    return out


def test_study_model_folders_are_valid_model_ids():
    study = load_study(REPO / "data" / "study.toml")
    assert study is not None and len(study.models) >= 6
    for model in study.models:
        check_model_id(model.id)  # raises on an id the importer could not use


def test_every_challenge_has_a_deep_dive_covering_its_traps():
    challenges = complete_challenges()
    assert challenges, "no challenge folders"
    for cid, ch in challenges.items():
        page = ANALYSIS / f"{cid}.md"
        assert page.exists(), f"analysis/{cid}.md is missing"
        text = page.read_text(encoding="utf-8")
        for trap in ch.trap_ids:
            assert f"(`{trap}`)" in text, f"analysis/{cid}.md does not explain trap {trap}"
        for name in ("results", "traps", "controls"):
            assert f"<!-- live: {name} challenge={cid} -->" in text, f"analysis/{cid}.md lacks the {name} directive"


def test_comparison_links_every_deep_dive():
    text = (ANALYSIS / "comparison.md").read_text(encoding="utf-8")
    for page in ANALYSIS.glob("*.md"):
        if page.name not in ("comparison.md", "index.md"):
            assert f"({page.name})" in text, f"comparison.md does not link {page.name}"


def test_no_hand_typed_speed_figures_in_analysis():
    for page in ANALYSIS.glob("*.md"):
        for line in page.read_text(encoding="utf-8").splitlines():
            if "<!-- live:" not in line:
                assert not TYPED_FIGURE.search(line), f"{page.name}: typed figure in {line!r}; use a directive"


def test_prompt_files_of_real_challenges_are_shareable():
    for cid, ch in complete_challenges().items():
        for rel in prompt_files(ch):
            assert Path(rel).parts[0] not in PRIVATE, f"{cid}: {rel} is a trusted part"
            assert (ch.path / rel).is_file()


def test_analysis_pages_render_against_the_repository(tmp_path):
    from llmbench.site.context import Context, default_flags
    from llmbench.site.data import load_site_data
    from llmbench.site.directives import render
    from llmbench.site.markers import replace, scan
    from llmbench.site.links import SiteLinks

    # Only finished challenge folders: a folder still being written has no challenge.toml.
    root = tmp_path / "repo"
    (root / "challenges").mkdir(parents=True)
    # Copies, not links: symlinked content folders are skipped by design (issue 13).
    for cid in complete_challenges():
        shutil.copytree(REPO / "challenges" / cid, root / "challenges" / cid)
    shutil.copytree(REPO / "data", root / "data")
    (root / "solutions").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_site_data(root)
    pages = sorted(ANALYSIS.glob("*.md"))
    assert len(pages) >= 2
    for page in pages:
        ctx = Context(data=data, links=SiteLinks(f"analysis/{page.name}"), flags=default_flags(),
                             path=str(page))
        text = page.read_text(encoding="utf-8")
        spans = scan(text, str(page)).spans
        assert spans, f"{page.name} has no live directive"
        out = replace(text, lambda d: render(d, ctx), str(page))  # ContentError on a bad directive
        assert "<!-- /live -->" in out
