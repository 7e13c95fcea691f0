"""`mkdocs build --strict` of the synthetic repository: every page type, search, safety, errors."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from mkdocs.exceptions import Abort, PluginError

from llmbench.project import Project
from llmbench.site.serve import build_site

pytestmark = pytest.mark.slow


@pytest.fixture
def site(synthetic_site) -> Path:
    return synthetic_site


def html(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def test_every_page_type_is_built(site, synthetic_data):
    for page in ["", "challenges", "models", "analysis", "analysis/synthetic", "downloads"]:
        assert (site / page / "index.html").is_file(), page
    for cid in synthetic_data.challenges:
        assert (site / "challenges" / cid / "index.html").is_file()
    for mid in synthetic_data.models:
        assert (site / "models" / mid / "index.html").is_file()
    for mid, cid in synthetic_data.pairs:
        assert (site / "solutions" / mid / cid / "index.html").is_file()
    for name in ["results.json", "results.csv", "result.schema.json", "study.json"]:
        assert (site / "downloads" / name).stat().st_size > 2
    assert not list(site.glob("docs/**"))


def test_search_index_has_every_challenge_model_and_solution(site, synthetic_data):
    index = json.loads((site / "search/search_index.json").read_text())
    locations = {d["location"].split("#")[0] for d in index["docs"]}
    wanted = {f"challenges/{c}/" for c in synthetic_data.challenges} | {f"models/{m}/" for m in synthetic_data.models}
    wanted |= {f"solutions/{m}/{c}/" for m, c in synthetic_data.pairs}
    assert wanted <= locations, wanted - locations
    text = " ".join(d["text"] + " " + d["title"] for d in index["docs"])
    assert "Synthetic Bravo" in text and "Padding leaks into attention" in text


def test_directives_rendered_and_placeholders_restored(site):
    home = html(site, "")
    assert "Synthetic Judge 1.0" in home and "not in this repository" in home
    assert 'href="solutions/synthetic-a/alpha/"' in home  # matrix cell -> solution page
    analysis = html(site, "analysis/synthetic")
    assert "<svg" in analysis and "currentColor" in analysis and "Reported error" in analysis
    assert "not-a-directive" in analysis and "also-not" in analysis  # code kept as written
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"lbraw[0-9a-f]+x\d+x", text), page
        assert "<script>alert" not in text, page


def test_model_text_is_escaped_and_its_links_dropped(site):
    page = html(site, "solutions/synthetic-a/alpha")
    assert "&lt;script&gt;alert(" in page
    assert "missing_page" not in page and 'href="https://example.com/x"' in page
    assert "weird &lt;b&gt;name&lt;/b&gt;.py" in page and "SECRET_SOURCE_MARKER" in page
    assert "nonsense-directive" in page  # shown as text, never run


def test_site_is_offline_no_cdn_no_web_fonts(site):
    for page in [site / "index.html", site / "solutions/synthetic-b/alpha/index.html"]:
        text = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", text):
            if 'rel="canonical"' in tag:
                continue  # names the published address; never fetched
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), tag
        assert "fonts.googleapis" not in text and "assets/llmbench/llmbench.js" in text


def _copy(root: Path, tmp: Path) -> Path:
    dest = tmp / "repo"
    shutil.copytree(root, dest)
    return dest


def test_contributor_mistake_fails_build_with_file_line_and_names(synthetic_root, tmp_path, caplog):
    root = _copy(synthetic_root, tmp_path)
    (root / "analysis/bad.md").write_text("# Bad\n\nSome text.\n<!-- live: results challenge=gamma -->\n")
    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "out")
    assert "llmbench: analysis/bad.md:4: live directive 'results': unknown challenge 'gamma'" in caplog.text
    assert "valid challenges: alpha, beta" in caplog.text


def test_orphan_closing_marker_fails_build(synthetic_root, tmp_path, caplog):
    root = _copy(synthetic_root, tmp_path)
    (root / "docs/extra.md").write_text("---\ntitle: Extra\n---\n# Extra\n\n<!-- /live -->\n")
    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "out")
    assert "docs/extra.md:6: closing marker" in caplog.text and "without a live directive" in caplog.text


def test_odd_solution_output_never_fails_build(synthetic_root, tmp_path):
    root = _copy(synthetic_root, tmp_path)
    (root / "results/synthetic-c/alpha.json").write_text("\x00\x01 not json")
    (root / "results/stray.json").write_text("{}")  # not in a model folder: ignored
    (root / "solutions/synthetic-c/alpha/NOTES.md").write_bytes(b"\xff\xfe bad utf8 [x](nowhere.md) <iframe>")
    site = build_site(Project(root), tmp_path / "out")
    page = html(site, "solutions/synthetic-c/alpha")
    assert "result unreadable" in page and "&lt;iframe&gt;" in page


def test_prose_stating_a_result_no_directive_backs_fails_the_build(synthetic_root, tmp_path, caplog):
    root = _copy(synthetic_root, tmp_path)
    (root / "analysis/prose.md").write_text(
        "# Prose\n\nBoth graded A matched greedy decoding on every case.\n\n"
        "Alpha avoided <!-- live: value model=synthetic-a challenge=alpha metric=err --> of them.\n")
    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "out")
    assert "analysis/prose.md:3: this sentence states a result that no live directive backs" in caplog.text
    assert "matched greedy decoding on every case" in caplog.text and "Alpha avoided" not in caplog.text
