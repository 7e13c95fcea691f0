"""Warm rebuilds: rendered pages and directives reused by the keys of their inputs, never stale."""
from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest

from llmbench.project import Project
from llmbench.site.serve import build_site

pytestmark = pytest.mark.slow
TOKEN = re.compile(r"lbraw[0-9a-f]+x\d+x")


def pages_of(site: Path) -> dict[str, str]:
    """Every HTML page of a built site (the sitemap's dates left out)."""
    return {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in sorted(site.rglob("*.html"))}


def build(root: Path, out: Path, caplog) -> tuple[dict[str, str], tuple[int, int, bool]]:
    """Build root's site into out; -> (its pages, (reused, rendered, results loaded))."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.llmbench"):
        site = build_site(Project(root), out)
    line = next(r.getMessage() for r in caplog.records if "rendered pages and directives reused" in r.getMessage())
    reused, rendered = (int(n) for n in re.search(r"(\d+) rendered pages and directives reused, (\d+) rendered",
                                                   line).groups())
    return pages_of(site), (reused, rendered, "results were not loaded" not in line)


@pytest.fixture
def root(synthetic_root, tmp_path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(synthetic_root, dest, ignore=shutil.ignore_patterns(".llmbench"))
    return dest


def test_nothing_changed_reuses_everything_and_loads_no_results(root, tmp_path, caplog):
    cold, (reused, rendered, loaded) = build(root, tmp_path / "cold", caplog)
    assert reused == 0 and rendered > 20 and loaded
    warm, (reused, again, loaded) = build(root, tmp_path / "warm", caplog)
    assert again == 0 and reused == rendered and not loaded
    assert warm == cold
    # raw HTML came back through fresh placeholders: none is left in a page
    assert not any(TOKEN.search(text) for text in warm.values())


def test_one_changed_result_re_renders_what_shows_it_and_nothing_else(root, tmp_path, caplog):
    from llmbench.site.data import load_site_data
    from llmbench.store import ResultStore

    build(root, tmp_path / "first", caplog)
    store = ResultStore(root / "results")
    result = store.read(root / "results/synthetic-a/alpha.json")
    result.metrics["err"].value = 7.5e-9  # a new measurement of one solution
    store.write(result)
    warm, (reused, rendered, loaded) = build(root, tmp_path / "warm", caplog)
    shutil.rmtree(root / ".llmbench")
    cold, _ = build(root, tmp_path / "cold", caplog)
    assert warm == cold  # a warm build is never stale
    assert loaded and "7.5e-09" in warm["solutions/synthetic-a/alpha/index.html"]
    # other solutions' pages were reused; the pages that show every result were not
    others = sum(1 for m, c in load_site_data(root).pairs if (m, c) != ("synthetic-a", "alpha"))
    assert reused >= others > 0 and rendered > 0


def test_an_edited_analysis_page_reuses_its_directives(root, tmp_path, caplog):
    build(root, tmp_path / "first", caplog)
    page = root / "analysis/synthetic.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nOne more sentence of prose.\n", encoding="utf-8")
    warm, (_, rendered, loaded) = build(root, tmp_path / "warm", caplog)
    assert rendered == 0 and not loaded  # the directives' inputs did not change
    assert "One more sentence of prose." in warm["analysis/synthetic/index.html"]


def test_a_broken_directive_fails_a_warm_build_too(root, tmp_path, caplog):
    from mkdocs.exceptions import Abort, PluginError

    build(root, tmp_path / "first", caplog)
    (root / "analysis/bad.md").write_text("# Bad\n\n<!-- live: results challenge=gamma -->\n")
    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "warm")
    assert "analysis/bad.md:3: live directive 'results': unknown challenge 'gamma'" in caplog.text


def test_charts_drawn_by_a_worker_give_the_pages_charts_drawn_in_the_build_give(root, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("llmbench.site.plugin.chart_workers", lambda: 1)
    pooled, _ = build(root, tmp_path / "pooled", caplog)
    assert sum(text.count("<svg") for text in pooled.values()) >= 2
    assert not any("lbchart" in text for text in pooled.values())  # every placeholder resolved
    # the entries stored while their charts were being drawn hold the charts
    warm, (_, rendered, _) = build(root, tmp_path / "warm", caplog)
    assert rendered == 0 and warm == pooled
    shutil.rmtree(root / ".llmbench")
    monkeypatch.setattr("llmbench.site.plugin.chart_workers", lambda: 0)
    inline, _ = build(root, tmp_path / "inline", caplog)
    assert inline == pooled


def test_a_broken_chart_fails_a_cold_build_that_renders_ahead_naming_its_line(root, tmp_path, caplog, monkeypatch):
    from mkdocs.exceptions import Abort, PluginError

    monkeypatch.setattr("llmbench.site.plugin.chart_workers", lambda: 1)
    (root / "analysis/bad.md").write_text("# Bad\n\nText.\n\n<!-- live: chart challenge=gamma metric=err -->\n")
    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "cold")
    assert "analysis/bad.md:5: live directive 'chart': unknown challenge 'gamma'" in caplog.text
