"""Bar charts as inline SVG: deterministic bytes, readable on light and dark pages.

Text, axes and grid are drawn in a placeholder colour that becomes `currentColor`, so the
chart takes the page's text colour in either palette. No date, no metadata, a fixed hash
salt and ids prefixed per chart, so the same data always gives the same SVG and two charts
on one page never share an id.
"""
from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass

_INK = "#010203"  # placeholder for currentColor
_BAR = "#4a86c5"  # mid-tone blue: enough contrast on white and on slate
_REF = "#d9822b"


@dataclass(frozen=True)
class Bar:
    """One bar of a chart.

    Attributes:
        label: The model's name.
        value: The figure, or None when there is none.
        note: Shown instead of a bar when value is None: why it is missing.
    """

    label: str
    value: float | None
    note: str = ""


def _scale(values: list[float], scale: str) -> str:
    if scale == "rate":
        return "rate"
    if scale in ("linear", "log"):
        if scale == "log" and any(v <= 0 for v in values):
            return "linear"
        return scale
    positive = [v for v in values if v > 0]
    if len(positive) == len(values) and len(values) >= 2 and max(positive) / min(positive) > 100:
        return "log"
    return "linear"


def bar_chart_svg(title: str, bars: list[Bar], unit: str = "", better: str = "none",
                  reference: float | None = None, scale: str = "auto") -> str:
    """Draw a horizontal bar chart, one bar per label, as an SVG string for inline use.

    Pure and deterministic: the same arguments always give the same bytes. Callers that
    draw many charts keep them in a `cache.ChartStore`.

    Args:
        title: The chart's title.
        bars: One bar per label; a bar without a value shows its note instead.
        unit: The values' unit, on the axis.
        better: "lower", "higher" or "none": said on the axis.
        reference: The reference solution's value, drawn as a dashed line; None for none.
        scale: "auto" (log when values span over 100x), "linear", "log" or "rate" (a share, 0-100%).

    Returns:
        Inline-ready SVG whose ids are unique to this chart.
    """
    from .text import plain

    # Labels are model names: no control characters into the SVG (matplotlib escapes the rest).
    bars = [Bar(plain(b.label), b.value, plain(b.note)) for b in bars]
    return _chart(plain(title), tuple(bars), plain(unit), better, reference, scale)


def _chart(title: str, bars: tuple[Bar, ...], unit: str, better: str, reference: float | None, scale: str) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    import matplotlib as mpl

    finite = [b.value for b in bars if b.value is not None and math.isfinite(b.value)]
    all_values = finite + ([reference] if reference is not None and math.isfinite(reference) else [])
    mode = _scale(all_values, scale) if all_values else "linear"
    rc = {
        "svg.hashsalt": "llmbench",
        "svg.fonttype": "none",
        "text.parse_math": False,  # a "$" in a model name is text, not mathtext
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "text.color": _INK,
        "axes.labelcolor": _INK,
        "axes.edgecolor": _INK,
        "xtick.color": _INK,
        "ytick.color": _INK,
    }
    with mpl.rc_context(rc):
        width, height = 7.0, 1.0 + 0.38 * max(1, len(bars))
        fig = Figure(figsize=(width, height))
        FigureCanvasSVG(fig)
        longest = max((len(b.label) for b in bars), default=4)
        # fixed margins instead of tight_layout: measuring text costs a second draw
        fig.subplots_adjust(left=min(0.5, (0.3 + 0.095 * longest) / width), right=0.97,
                            top=1 - 0.42 / height, bottom=0.55 / height)
        ax = fig.add_subplot()
        fig.patch.set_alpha(0)
        ax.set_facecolor("none")
        ys = list(range(len(bars)))[::-1]
        low = min(all_values) if all_values else 1.0
        for y, b in zip(ys, bars):
            if b.value is not None and math.isfinite(b.value):
                left = low / 10 if mode == "log" else 0
                ax.barh(y, b.value - left, left=left, color=_BAR, height=0.62)
                ax.annotate(f"{b.value:.0%}" if mode == "rate" else _short(b.value, unit), (b.value, y), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=8.5)
            else:
                ax.annotate(b.note or "no value", (0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=8.5, style="italic", alpha=0.75)
        if reference is not None and math.isfinite(reference):
            ax.axvline(reference, color=_REF, linestyle="--", linewidth=1.2)
            ax.annotate("reference", (reference, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                        textcoords="offset points", color=_REF, fontsize=8)
        ax.set_yticks(ys, [b.label for b in bars])
        ax.set_ylim(-0.6, len(bars) - 0.4)
        if mode == "log":
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_xscale("log")
            if all_values:
                ax.set_xlim(min(all_values) / 10, max(all_values) * 30)
            ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
            ax.xaxis.set_major_formatter(FuncFormatter(_power_of_ten))
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif mode == "rate":  # a share: the axis ends at 100%, whatever the values
            from matplotlib.ticker import PercentFormatter

            ax.set_xlim(0.0, max(1.0, max(all_values) if all_values else 1.0))
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        elif all_values:
            ax.set_xlim(min(0.0, min(all_values)), max(all_values) * 1.25 if max(all_values) > 0 else 1)
        hint = {"lower": " (lower is better)", "higher": " (higher is better)"}.get(better, "")
        ax.set_xlabel(("share of cases" if mode == "rate" else f"{unit}" if unit else "value") + hint + (" · log scale" if mode == "log" else ""))
        ax.set_title(title, fontsize=10.5, loc="left")
        ax.grid(axis="x", color=_INK, alpha=0.15, linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return _clean(buf.getvalue(), title, bars, reference, unit)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _pos=None) -> str:
    """Log-axis tick labels as 10⁻⁸ in plain text (mathtext is off: labels are never parsed)."""
    if value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) > 1e-6:
        return ""
    return "10" + str(int(round(exponent))).translate(_SUPERSCRIPT)


def _short(value: float, unit: str) -> str:
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        text = f"{value:.3g}"
    else:
        text = f"{value:.4g}"
    return f"{text} {unit}".strip()


def _clean(svg: str, title: str, bars: list[Bar], reference, unit: str) -> str:
    """Inline-ready SVG: no prolog, comments or metadata; currentColor ink; ids unique to this chart."""
    digest = hashlib.sha1(repr((title, bars, reference, unit)).encode()).hexdigest()[:8]
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    # matplotlib's "*{...}" style would apply to the whole page once inlined
    svg = re.sub(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = svg.replace(_INK, "currentColor")
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="c{digest}-{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#c{digest}-{m.group(1)})", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#c{digest}-{m.group(1)}"', svg)
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', svg, count=1)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(title)}" class="lb-chart-svg" '
                      'style="stroke-linejoin: round; stroke-linecap: butt" ', 1)
    return "\n".join(line for line in svg.splitlines() if line.strip())


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
