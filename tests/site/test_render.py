"""Renderers: pure functions from synthetic site data to markdown / SVG."""
from __future__ import annotations

import re

import pytest

from llmbench.errors import ContentError
from llmbench.site import pages
from llmbench.site.charts import Bar, bar_chart_svg
from llmbench.site.context import Context
from llmbench.site.directives import REGISTRY, render
from llmbench.site.links import AbsoluteLinks, SiteLinks
from llmbench.site.markers import Directive, parse_args


def ctx_for(data, page="analysis/x.md", flags=None, absolute=False):
    links = AbsoluteLinks("https://site.example/b/") if absolute else SiteLinks(page)
    return Context(data, links, flags=flags, html=not absolute, path=page)


def run(data, body, inline=False, **kw):
    name, args = parse_args(body, "analysis/x.md", 1)
    return render(Directive(name, args, 1, inline), ctx_for(data, **kw))


def test_models_and_challenges_come_from_study_solutions_and_results(synthetic_data):
    d = synthetic_data
    assert list(d.models)[:3] == ["synthetic-g", "synthetic-a", "synthetic-b"]  # published ranking order first
    assert set(d.models) == {f"synthetic-{c}" for c in "abcdefg"}
    assert list(d.challenges) == ["alpha", "beta"]
    assert ("synthetic-a", "beta") in d.unreadable and ("synthetic-g", "alpha") in d.pairs
    assert ("synthetic-f", "beta") not in d.pairs  # neither graded, imported nor run: no page


def test_ranking_is_published_order_verbatim(synthetic_data):
    out = run(synthetic_data, "ranking")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "Rank" not in line and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["1", "2", "3"]
    assert "Synthetic Golf" in rows[0] and "B-/C+" in rows[0] and "A/A-" in rows[1]
    assert "Synthetic Judge 1.0" in out and "https://example.org/synthetic-study" in out


def test_grade_matrix_shows_every_cell_state_and_links_cells(synthetic_data):
    out = run(synthetic_data, "grade-matrix", page="index.md")
    assert "Synthetic Judge 1.0" in out
    for text in ["✓ conformance 4/4 passed", "✗ failed", "◔ timed out", "◌ needs a dependency", "◌ harness error",
                 "○ no result yet", "○ not in this repository", "⚠ result unreadable", "⚠ stale",
                 "fell in: t\\_one", "not graded, no solution here", "◌ needs an adapter"]:
        assert text in out, text
    # our gaps are grey and never red: the missing dependency (B+) and the missing adapter mapping (A-)
    delta = [cell for line in out.splitlines() if line.startswith("| [") for cell in line.split(" | ")
             if "synthetic-d/" in cell]
    assert len(delta) == 2 and all("lb-bad" not in c and "⚑" not in c and "lb-gap" in c for c in delta), delta
    assert "/work/build-machine" not in out  # paths of the build machine never reach a page
    assert "[**A**](solutions/synthetic-a/alpha.md)" in out
    assert "[**B-**](solutions/synthetic-g/alpha.md)" in out  # graded without a solution: still a page
    assert "3.1" not in out  # no number from a failed run sneaks into the matrix


def test_grade_matrix_calls_the_flag_hook(synthetic_data):
    calls = []

    class Flag:
        label, explanation = "falls into a trap", "explained"

    def flags(grade, result):
        calls.append((grade, result.model))
        return [Flag()] if result.model == "synthetic-b" else []

    out = run(synthetic_data, "grade-matrix", flags=flags)
    assert ("A-", "synthetic-b") in calls and ("A", "synthetic-a") in calls
    assert out.count("⚑ falls into a trap") == 1 and 'explained"' in out


def test_results_table_markers_never_empty_or_stale(synthetic_data):
    out = run(synthetic_data, "results challenge=alpha")
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| [") or "reference" in line}
    golf = next(v for k, v in rows.items() if "Golf" in k)
    assert "not in this repository" in golf
    assert "2.5e-16" in rows[next(k for k in rows if "Alpha Model" in k)]
    bravo = rows[next(k for k in rows if "Bravo" in k)]
    assert "3.1" in bravo and "fell in: t\\_one" in bravo
    assert "1.1e-16" in out and "reference (llmbench)" in out
    for line in out.splitlines():
        if line.startswith("| ") and "---" not in line:
            assert "||" not in line.replace(" ", "") and "|  |" not in line  # no empty cell


def test_value_measured_reported_and_missing(synthetic_data):
    assert run(synthetic_data, "value model=synthetic-a challenge=alpha metric=err", inline=True) == "2.5e-16"
    assert run(synthetic_data, "value model=_reference challenge=alpha metric=err format=.1e", inline=True) == "1.1e-16"
    rep = run(synthetic_data, "value model=synthetic-g challenge=alpha metric=err source=reported", inline=True)
    assert rep == "3.25e-08 (reported by the study)"
    rep_a = run(synthetic_data, "value model=synthetic-a challenge=alpha metric=err source=reported", inline=True)
    assert "reported by the solution in FINAL.md" in rep_a
    assert "○ no result yet" in run(synthetic_data, "value model=synthetic-f challenge=alpha metric=err")
    assert "timed out" in run(synthetic_data, "value model=synthetic-c challenge=alpha metric=speed")
    assert "stale" in run(synthetic_data, "value model=synthetic-b challenge=beta metric=bandwidth")


@pytest.mark.parametrize("body, inline, expected", [
    ("nonsense", False, "valid directives: grade-matrix, ranking"),
    ("results", False, "missing argument 'challenge'"),
    ("results challenge=gamma", False, "unknown challenge 'gamma'"),
    ("results challenge=alpha colour=red", False, "valid arguments: challenge, models"),
    ("value model=nobody challenge=alpha metric=err", True, "valid models: synthetic-g, synthetic-a"),
    ("value model=synthetic-a challenge=alpha metric=loss", True, "valid metrics in challenges/alpha/challenge.toml: err, speed"),
    ("chart challenge=alpha metric=speed source=reported", False, "valid metrics reported"),
    ("chart challenge=alpha metric=err scale=cubic", False, "valid value of scales: auto, linear, log"),
    ("value model=synthetic-a challenge=alpha metric=err format=%%", True, "not a Python format spec"),
    ("results challenge=alpha", True, "put it on a line of its own"),
])
def test_contributor_mistakes_fail_with_line_and_valid_names(synthetic_data, body, inline, expected):
    with pytest.raises(ContentError) as exc:
        run(synthetic_data, body, inline=inline)
    assert expected in str(exc.value) and str(exc.value).startswith("analysis/x.md:1:")


def test_tests_escape_model_messages(synthetic_data):
    out = run(synthetic_data, "tests model=synthetic-b challenge=alpha")
    assert "AssertionError: &lt;boom&gt; &#124; pipe \\*star\\*" in out
    assert "Rescale factor upside down" in out and "max error 3.1" in out
    assert "<boom>" not in out


def test_controls_reference_and_mutants(synthetic_data):
    out = run(synthetic_data, "controls challenge=alpha")
    assert "avoids all 3 traps" in out and "caught: falls into its trap" in out
    assert "not caught: avoided" in out and "no mutant patch" in out and "1 of 3 mutants caught" in out


def test_traps_provenance_study_models_challenges(synthetic_data):
    traps = run(synthetic_data, "traps challenge=alpha")
    assert "Fully masked first tile" in traps and "not judged: not expressible" in traps
    prov = run(synthetic_data, "provenance")
    assert "2026-04-20T10:00:00Z" in prov and "Synthetic CPU" in prov
    assert "abc1234" in run(synthetic_data, "provenance model=synthetic-a challenge=alpha")
    assert "Synthetic Judge 1.0" in run(synthetic_data, "study")
    assert "Alpha Attention" in run(synthetic_data, "challenges")
    assert "solutions not in this repository" in run(synthetic_data, "models")


def test_github_mode_links_absolute_and_charts_become_links(synthetic_data):
    out = run(synthetic_data, "chart challenge=alpha metric=err", absolute=True)
    assert out == "[Chart: Alpha Attention: err (measured by llmbench)](https://site.example/b/challenges/alpha/#chart-err)"
    matrix = run(synthetic_data, "grade-matrix", absolute=True)
    assert "](https://site.example/b/solutions/synthetic-a/alpha/)" in matrix
    assert "<span" not in matrix and "<br>" not in matrix and ".md)" not in matrix


def test_chart_svg_is_deterministic_themable_and_lists_missing(synthetic_data):
    out = run(synthetic_data, "chart challenge=alpha metric=err")
    again = run(synthetic_data, "chart challenge=alpha metric=err")
    assert out == again and out.startswith('<figure class="lb-chart"')
    assert "currentColor" in out and "<!--" not in out and "<?xml" not in out and "Date" not in out
    import html

    caption = html.unescape(out[out.index("<figcaption>"):])
    assert "not run: no result yet: Synthetic Foxtrot" in caption and "solution not in this repository: Synthetic Golf" in caption
    assert "\\" not in caption  # no markdown escapes in a chart's caption
    svg = bar_chart_svg("t", [Bar("a", 1.0), Bar("b", 1000.0)], "s")
    ids = re.findall(r'id="([^"]+)"', svg)
    assert ids and all(i.startswith("c") and "-" in i for i in ids)
    assert "log scale" in svg  # three decades apart: log scale picked
    other = bar_chart_svg("u", [Bar("a", 1.0), Bar("b", 1000.0)], "s")
    assert not set(ids) & set(re.findall(r'id="([^"]+)"', other))  # two charts on a page never share an id


def test_every_directive_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs/contributing/directives.md").read_text()
    for name, spec in REGISTRY.items():
        assert f"### `{name}`" in doc, name
        for arg in spec.args:
            assert f"`{arg}`" in doc, (name, arg)


def test_solution_page_escapes_untrusted_text(synthetic_data):
    stash = {}

    def raw(html):
        stash[len(stash)] = html
        return f"RAW{len(stash) - 1}"

    ctx = Context(synthetic_data, SiteLinks("solutions/synthetic-a/alpha.md"), raw=raw)
    md = pages.solution_page(synthetic_data, "synthetic-a", "alpha", ctx)
    everything = md + "".join(stash.values())
    assert "<script>" not in everything and "&lt;script&gt;" in everything
    assert "missing_page.md" not in md  # model links never reach mkdocs' link checker
    assert "<!-- live:" not in everything  # nothing a model wrote can look like a directive
    assert "weird &lt;b&gt;name&lt;/b&gt;.py" in everything
    assert "records of type assistant" in md and "| tool calls | 3 |" in md


def test_unpublished_sources_show_results_only(synthetic_root):
    from llmbench.site.data import load_site_data

    data = load_site_data(synthetic_root, publish_sources=False)
    stash = []
    ctx = Context(data, SiteLinks("solutions/synthetic-a/alpha.md"), raw=lambda h: stash.append(h) or "")
    md = pages.solution_page(data, "synthetic-a", "alpha", ctx)
    assert "SECRET_SOURCE_MARKER" not in md + "".join(stash) and "owned" not in "".join(stash)
    assert "publish_sources: false" in md and "2.5e-16" in md


def test_downloads_csv_and_json(synthetic_data):
    csv_text = pages.results_csv(synthetic_data)
    header, *rows = csv_text.splitlines()
    assert header.startswith("model,challenge,status") and "metric:err" in header
    assert any(r.startswith("synthetic-b,alpha,failed") and ",t_one," in r for r in rows)
    import json

    items = json.loads(pages.results_json(synthetic_data))
    assert {i["run_kind"] for i in items} == {"solution", "reference", "mutant"}


def test_flag_explanation_cannot_split_its_table_cell_or_add_attributes(synthetic_data):
    """Issue 13: a solution's exception message reached a flag's title attribute; its `|` split
    the grade-matrix cell and an attribute list made a live link with onmouseover."""
    import markdown

    class Flag:
        label = "falls [x](javascript:x) | into"
        explanation = 'boom | [hover](https://x.example/){: onmouseover="alert(1)" } | "quoted" {: .big }'

    out = run(synthetic_data, "grade-matrix", flags=lambda grade, result: [Flag()])
    html = markdown.markdown(out, extensions=["tables", "attr_list", "md_in_html"])
    assert "onmouseover" not in re.sub(r'title="[^"]*"', "", html)
    assert 'href="https://x.example' not in html and 'href="javascript' not in html and 'class="big"' not in html
    header = next(line for line in out.splitlines() if line.startswith("| "))
    for line in out.splitlines():
        if line.startswith("| ") and "⚑" in line:
            assert line.count("|") == header.count("|"), line  # no cell split


def test_site_data_reads_only_the_head_of_huge_files(synthetic_root, tmp_path):
    """Issue 13: the site build read whole files (multi-GB checkpoints) before truncating.
    Under a 1.5 GiB address-space cap, a 4 GiB file must not be read whole."""
    import shutil
    import subprocess
    import sys

    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root, symlinks=True)
    with open(root / "solutions/synthetic-a/alpha/checkpoint.txt", "wb") as fh:
        fh.write(b"weights " * 40_000)
        fh.truncate(4 << 30)  # sparse: cheap to make, 4 GiB to read
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20)); "
            "from llmbench.site.data import load_site_data, MAX_SOURCE_BYTES; "
            f"d = load_site_data(__import__('pathlib').Path({str(root)!r})); "
            "f = {x.path: x for x in d.files('synthetic-a', 'alpha')}['checkpoint.txt']; "
            "assert f.size == 4 << 30 and f.truncated and len(f.text) == MAX_SOURCE_BYTES, (f.size, f.truncated); "
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
