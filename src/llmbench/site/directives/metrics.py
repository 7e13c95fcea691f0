"""Directives showing metrics: a bar chart across models, one figure inline."""
from __future__ import annotations

from ..cells import is_rate, mark, metric_cell, missing_value, models_of, state
from ..charts import Bar
from ..context import Context
from ..data import REFERENCE
from ..markers import Directive
from ..text import esc, esc_html, fmt_number
from .registry import directive


def _chart_bars(ctx: Context, cid: str, metric: str, source: str, models: list[str]):
    bars, unit, better, reference = [], "", "none", None
    data = ctx.data
    spec = data.challenges[cid].spec
    ms = spec.metric(metric) if spec else None
    if ms:
        unit, better = ms.unit, ms.better
    for m in models:
        label = data.models[m].name
        if source == "reported":
            rep = data.reported(m, cid, metric)
            if rep is None:
                continue  # a chart of reported figures shows who reported one
            value, rep_unit, _ = rep
            unit = unit or rep_unit
            bars.append(Bar(label, float(value)) if isinstance(value, (int, float)) else Bar(label, None, str(value)))
            continue
        kind, _ = state(ctx, m, cid)
        if kind != "result":
            bars.append(Bar(label, None, {"stale": "stale result", "unreadable": "result unreadable",
                                          "missing": "not run: no result yet", "absent": "solution not in this repository",
                                          "unattempted": "not graded"}[kind]))
            continue
        r = data.result(m, cid)
        if metric in r.metrics:
            unit = unit or r.metrics[metric].unit
            bars.append(Bar(label, r.metrics[metric].value))
        else:
            bars.append(Bar(label, None, missing_value(r).word))
    if source != "reported":
        ref = data.result(REFERENCE, cid)
        if ref is not None and metric in ref.metrics and not data.stale_reason(ref):
            reference = ref.metrics[metric].value
    return bars, unit, better, reference


def _missing_text(bars) -> str:
    """Why bars have no value, grouped by reason: "not run: A, B; solution not in this repository (4 models)"."""
    by_note: dict[str, list[str]] = {}
    for b in bars:
        if b.value is None:
            by_note.setdefault(b.note or "no value", []).append(b.label)
    return "; ".join(f"{note}: {', '.join(labels)}" if len(labels) <= 3 else f"{note} ({len(labels)} models)"
                     for note, labels in by_note.items())


def chart_anchor(metric: str, source: str) -> str:
    """The id of a chart's heading on a challenge page (the link target of a chart on GitHub).

    Args:
        metric: The metric's name.
        source: "measured" or "reported".

    Returns:
        The anchor.
    """
    return f"chart-{'reported-' if source == 'reported' else ''}{metric}"


@directive("chart", args={"challenge": "challenge", "metric": "metric", "source": "measured|reported",
                          "models": "models", "scale": "auto|linear|log", "title": "text"},
           required=("challenge", "metric"), help="a bar chart of one metric across models")
def chart(d: Directive, ctx: Context) -> str:
    """`chart`: a bar chart of one metric across models (inline SVG; a link to it on GitHub).

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    cid, metric = d.text("challenge"), d.text("metric")
    source = d.text("source", "measured")
    label = f"{metric} ({'reported, not reproduced' if source == 'reported' else 'measured by llmbench'})"
    title = d.text("title") or f"{ctx.data.challenges[cid].title}: {label}"
    if not ctx.inline_svg:
        url = ctx.links.page(f"challenges/{cid}", chart_anchor(metric, source))
        return f"[Chart: {esc(title)}]({url})"
    models = models_of(ctx, d, cid)
    bars, unit, better, reference = _chart_bars(ctx, cid, metric, source, models)
    if not any(b.value is not None for b in bars):
        what = "reported" if source == "reported" else "measured"
        why = _missing_text(bars)
        return mark(ctx, "none", f"no {what} values of {esc(metric)} yet" + (f" ({esc(why, 300)})" if why else ""))
    scale = d.text("scale", "auto")
    if scale == "auto" and is_rate(metric, unit):
        scale = "rate"
    svg = ctx.charts.svg(title, bars, unit, better, reference, scale)
    missing = _missing_text(bars)
    caption = esc_html(label) + (f". No value: {esc_html(missing[:400])}" if missing else "")
    html = (f'<figure class="lb-chart" data-search-exclude>{svg}'
            f"<figcaption>{caption}</figcaption></figure>")
    return ctx.raw(html)


@directive("value", args={"model": "model", "challenge": "challenge", "metric": "metric",
                          "source": "measured|reported", "format": "text"},
           required=("model", "challenge", "metric"), inline=True, help="one figure, inline")
def value(d: Directive, ctx: Context) -> str:
    """`value`: one figure, inline: measured, or reported and labelled with who reported it.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    m, cid, metric = d.text("model"), d.text("challenge"), d.text("metric")
    spec = d.text("format")
    if d.text("source", "measured") == "reported":
        rep = data.reported(m, cid, metric) if m != REFERENCE else None
        if rep is None:
            return mark(ctx, "none", "not reported")
        value, unit, who = rep
        return f"{fmt_number(value, unit, spec) if not isinstance(value, str) else esc(value)} ({esc(who)})"
    return metric_cell(ctx, m, cid, metric, spec)
