"""A cold build: charts drawn by a worker process while pages convert, the same bytes as drawn in-process."""
from __future__ import annotations

import pytest

from llmbench.site import cache
from llmbench.site.cache import ChartStore
from llmbench.site.charts import Bar, bar_chart_svg

CHART = ("Alpha: err", (Bar("Model <A> & co", 2.5e-9), Bar("B", None, "not run: no result yet"), Bar("C", 3)),
         "s", "lower", 1e-9, "auto")


def test_a_worker_draws_the_same_bytes_and_the_placeholder_resolves_to_them(tmp_path):
    store = ChartStore(tmp_path / "charts", workers=1)
    token = store.svg(*CHART)
    assert token.startswith(store.prefix) and "<svg" not in token and store.pending(f"<p>{token}</p>")
    assert store.svg(*CHART) == token  # asked twice, drawn once
    page = f"<figure>{token}</figure>"
    store.finish()
    expected = bar_chart_svg(CHART[0], list(CHART[1]), *CHART[2:])
    assert store.resolve(page) == f"<figure>{expected}</figure>"
    assert store.svg(*CHART) == expected  # now from memory
    # kept on disk whole: a later build's store reads it without drawing
    again = ChartStore(tmp_path / "charts", workers=1)
    assert again.svg(*CHART) == expected and not again.pending(expected)


def test_a_chart_the_worker_cannot_draw_is_drawn_here_and_raises_here(tmp_path):
    store = ChartStore(None, workers=1)
    token = store.svg("t", [Bar("a", 1.0)], "s", "lower", None, "auto")
    # a title no font can lay out: the worker reports an error, the build draws it and sees why
    bad = store.svg("bad\udc80", [Bar("a", 1.0)], "s")
    with pytest.raises(TypeError):
        store.finish()
    assert store.resolve(token) == bar_chart_svg("t", [Bar("a", 1.0)], "s", "lower")
    assert bad != token


def test_without_workers_charts_are_drawn_when_asked():
    store = ChartStore(None, workers=0)
    svg = store.svg(*CHART)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and not store.pending(svg)


def test_a_truncated_chart_on_disk_is_drawn_again(tmp_path):
    store = ChartStore(tmp_path, workers=0)
    svg = store.svg(*CHART)
    (path,) = tmp_path.glob("*.svg")
    path.write_text(svg[: len(svg) // 2], encoding="utf-8")
    assert ChartStore(tmp_path, workers=0).svg(*CHART) == svg


def test_chart_workers_leave_the_build_a_core():
    assert 0 <= cache.chart_workers() <= cache.MAX_CHART_WORKERS


def test_the_site_counts_code_files_as_the_runner_does():
    from llmbench.runner import CODE_SUFFIXES
    from llmbench.site.pages import CODE_SUFFIXES as SITE_SUFFIXES

    assert SITE_SUFFIXES == CODE_SUFFIXES


def test_python_is_highlighted_as_the_lexer_lookup_would():
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_for_filename

    from llmbench.site.text import highlight as site_highlight

    source = "def f(x):\n    return x  # ok\n"
    expected = highlight(source, get_lexer_for_filename("m.py", source), HtmlFormatter(cssclass="highlight", wrapcode=True))
    assert site_highlight(source, "pkg/m.py") == expected


def test_a_worker_highlights_source_as_the_build_would():
    from llmbench.site.text import highlight

    source = "def f(x):\n    return '<b>' + x  # a comment\n\x07"
    store = ChartStore(None, workers=1)
    token = store.highlight(source, "pkg/mod.py")
    assert token.startswith(store.prefix) and store.highlight(source, "pkg/mod.py") == token
    store.finish()
    assert store.resolve(f"<details>{token}</details>") == f"<details>{highlight(source, 'pkg/mod.py')}</details>"
    assert ChartStore(None, workers=0).highlight(source, "k.cu") == highlight(source, "k.cu")
