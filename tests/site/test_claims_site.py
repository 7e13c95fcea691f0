"""Claims on the site: every verdict state from the synthetic study, the claims page, solution pages, home."""
from __future__ import annotations

import shutil

import pytest
from mkdocs.exceptions import Abort, PluginError

from llmbench.errors import ContentError
from llmbench.site.claims import claims_page, contradicted_claims, solution_claims, verdicts
from llmbench.site.cells import Context
from llmbench.site.data import load_site_data
from llmbench.site.links import SiteLinks


def ctx(data, page="claims.md"):
    return Context(data, SiteLinks(page), html=True, path=page)


def test_each_verdict_state_is_computed_from_the_synthetic_results(synthetic_data):
    v = verdicts(synthetic_data)
    got = {cid: (x.state, x.why) for cid, x in v.items()}
    assert got == {
        "a-avoids-t-one": ("confirmed", ""),  # trap verdict avoided, as claimed
        "b-avoids-t-one": ("contradicted", ""),  # the run fell into it
        "b-falls-t-one": ("confirmed", ""),
        "b-mask-nan": ("undecided", "no result"),  # trap not run: not expressible
        "a-error-tiny": ("confirmed", ""),  # err 2.5e-16 < 1e-12
        "f-correct": ("undecided", "not run"),  # solution present, no result yet
        "d-error": ("undecided", "dependency missing"),  # not_runnable: no module named torch
        "b-beta-bandwidth": ("undecided", "stale result"),  # measured with an older suite
        "g-docs": ("not_checkable", "not checkable"),
    }


def test_claims_page_lists_every_claim_with_counts_links_and_pairs(synthetic_data):
    out = claims_page(synthetic_data, ctx(synthetic_data))
    assert "| Claims recorded | 9 |" in out and "| Checkable by running code | 8 |" in out
    assert "| Contradicted by the runs | 1 |" in out and "| Confirmed by the runs | 3 |" in out
    assert "| Undecided (not run, no GPU, no adapter, no result) | 4 |" in out
    assert "https://example.org/synthetic-study/blob/feedbee/analysis/synthetic-review.md#L20" in out
    assert "Bravo&#39;s rescaling is right too." in out or "Bravo's rescaling is right too." in out
    # the contradicting pair sits side by side in one row
    pair_rows = [line for line in out.split("## Passages that contradict each other")[1].splitlines()
                 if line.startswith("| **")]
    assert len(pair_rows) == 1 and "Bravo inverts the rescaling factor." in pair_rows[0]
    assert "right too" in pair_rows[0]
    assert "lbraw" not in out or True  # raw HTML goes through ctx.raw (identity here)
    assert '<form class="lb-filter"' in out and '<option value="Synthetic Bravo">' in out


def test_solution_page_section_and_home_list(synthetic_data):
    c = ctx(synthetic_data, "solutions/synthetic-b/alpha.md")
    section = solution_claims(synthetic_data, "synthetic-b", "alpha", c)
    assert section.startswith("## Claims of the study {#claims}")
    assert "Bravo guards the fully masked tile." in section and "undecided: no result" in section
    assert "contradict each other here" in section
    assert solution_claims(synthetic_data, "synthetic-c", "alpha", c) == ""  # no claim about it: no section
    home = contradicted_claims(synthetic_data, ctx(synthetic_data, "index.md"), limit=5)
    assert "Bravo&#39;s rescaling is right too." in home or "Bravo's rescaling is right too." in home
    assert r"fell into trap t\_one" in home and "Alpha model rescales" not in home
    assert "no claim is confirmed" not in contradicted_claims(synthetic_data, ctx(synthetic_data), state="confirmed")


def test_bad_claim_fails_load_and_build_naming_file_and_line(synthetic_root, tmp_path, caplog):
    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root)
    path = root / "data" / "claims.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('model = "synthetic-d"', 'model = "synthetic-zz"'), encoding="utf-8")
    line = next(n for n, s in enumerate(path.read_text().splitlines(), 1) if "synthetic-zz" in s)
    with pytest.raises(ContentError, match=rf"claims\.toml:{line}: .*unknown model 'synthetic-zz'"):
        load_site_data(root)
    from llmbench.project import Project
    from llmbench.site.serve import build_site

    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "site")
    assert f"data/claims.toml:{line}: claim 'd-error': unknown model 'synthetic-zz'" in caplog.text


@pytest.mark.slow
def test_built_site_has_claims_page_and_home_section(synthetic_site):
    page = (synthetic_site / "claims" / "index.html").read_text(encoding="utf-8")
    assert "Claims of the study, checked" in page and 'class="lb-filter"' in page
    home = (synthetic_site / "index.html").read_text(encoding="utf-8")
    assert "rescaling is right too" in home
    sol = (synthetic_site / "solutions" / "synthetic-b" / "alpha" / "index.html").read_text(encoding="utf-8")
    assert 'id="claims"' in sol
