"""Cells: the context renderers share, state markers and the few words that sum up a result.

A cell without a usable result shows why (not run, failed, stale, not in this repository)
instead of staying empty or keeping an old number.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ContentError
from ..schema import STATUS_MEANING, PhaseResult, Result
from .data import REFERENCE, SiteData
from .directives import Directive
from .text import esc, esc_html, fmt_number

DOWNLOADS = {
    "JSON": "downloads/results.json",
    "CSV": "downloads/results.csv",
    "schema": "downloads/result.schema.json",
}
_SYMBOL = {"ok": "✓", "bad": "✗", "warn": "⚠", "none": "○", "time": "◔", "info": "ℹ"}
_RAN = ("passed", "failed", "error", "timeout")


def default_flags() -> Callable | None:
    """llmbench.evidence.flags(grade, result) when that module exists (grade-versus-evidence flags)."""
    if importlib.util.find_spec("llmbench.evidence") is None:
        return None
    from .. import evidence

    return getattr(evidence, "flags", None)


def _identity(html: str) -> str:
    return html


@dataclass
class Context:
    data: SiteData
    links: object  # SiteLinks or AbsoluteLinks
    raw: Callable[[str], str] = _identity  # carries raw HTML through markdown (site build)
    flags: Callable | None = None
    html: bool = True  # False: plain markdown for GitHub (no classes, charts become links)
    path: str = "<text>"
    charts: dict = field(default_factory=dict)  # cache: chart arguments -> SVG

    @property
    def inline_svg(self) -> bool:
        return not getattr(self.links, "absolute", False)

    def fail(self, d: Directive, message: str) -> ContentError:
        return ContentError(self.path, f"live directive '{d.name}': {message}", d.line)


# ---- small pieces ------------------------------------------------------------------

def mark(ctx: Context, kind: str, text: str) -> str:
    """A visible state marker: a symbol and (escaped) text, coloured on the site."""
    body = f"{_SYMBOL[kind]} {text}"
    return f'<span class="lb-mark lb-{kind}">{body}</span>' if ctx.html else body


def model_link(ctx: Context, model: str) -> str:
    info = ctx.data.models.get(model)
    name = esc(info.name if info else model)
    return f"[{name}]({ctx.links.page(f'models/{model}')})" if info else name


def challenge_link(ctx: Context, cid: str) -> str:
    info = ctx.data.challenges[cid]
    return f"[{esc(info.title)}]({ctx.links.page(f'challenges/{cid}')})"


def solution_link(ctx: Context, model: str, cid: str, text: str) -> str:
    if ctx.data.has_page(model, cid):
        return f"[{text}]({ctx.links.page(f'solutions/{model}/{cid}')})"
    return text


def downloads_line(ctx: Context) -> str:
    links = " · ".join(f"[{k}]({ctx.links.file(v)})" for k, v in DOWNLOADS.items())
    return f"Download all results: {links}"


def counts(phase: PhaseResult) -> dict[str, int]:
    """Outcome counts of a phase, from its counts or else from its test records."""
    out = {k: v for k, v in phase.counts.items()}
    if not any(k in out for k in _RAN) and phase.tests:
        for t in phase.tests:
            if t.decides:
                out[t.outcome] = out.get(t.outcome, 0) + 1
    return out


def beyond_summary(ctx: Context, phase: PhaseResult | None) -> str:
    """The conformance tests stricter than the study's prompt: passed / ran. They never decide a
    trap or a status, so a shortfall is shown as information, not as a failure."""
    c = phase.beyond_counts if phase is not None else {}
    ran = sum(c.get(k, 0) for k in _RAN)
    if not ran:
        skipped = c.get("skipped", 0) + c.get("not_run", 0)
        return mark(ctx, "none", f"{skipped} skipped") if skipped else "–"
    passed = c.get("passed", 0)
    return mark(ctx, "ok" if passed == ran else "info", f"{passed}/{ran}")


def phase_summary(ctx: Context, phase: PhaseResult | None, label: str) -> str:
    if phase is None:
        return mark(ctx, "none", f"{label} not run")
    c = counts(phase)
    ran = sum(c.get(k, 0) for k in _RAN)
    passed = c.get("passed", 0)
    skipped = c.get("skipped", 0) + c.get("not_run", 0)
    extra = f", {skipped} skipped" if skipped else ""
    if phase.status == "ok" and ran:
        kind = "ok" if passed == ran else "bad"
        return mark(ctx, kind, f"{label} {passed}/{ran}{extra}")
    if phase.status == "not_run":
        return mark(ctx, "none", f"{label} not run" + (f": {esc(phase.reason, 80)}" if phase.reason else ""))
    kind = {"timeout": "time", "harness_error": "warn", "ok": "none"}.get(
        phase.status, "none" if STATUS_MEANING.get(phase.status, ("", "solution"))[1] == "ours" else "bad")
    what = {"failed": f"{label} {passed}/{ran}" if ran else f"{label} failed",
            "timeout": f"{label} timed out", "not_runnable": f"{label} not runnable",
            "harness_error": f"{label}: harness error", "ok": f"{label}: no tests"}.get(
        phase.status, f"{label} {STATUS_MEANING.get(phase.status, (phase.status,))[0]}")
    return mark(ctx, kind, what + extra + (f": {esc(phase.reason, 80)}" if phase.reason else ""))


def trap_summary(ctx: Context, result: Result) -> str:
    if not result.traps:
        return mark(ctx, "none", "no trap verdicts")
    avoided = [t for t, v in result.traps.items() if v.status == "avoided"]
    fell = [t for t, v in result.traps.items() if v.status == "fell_in"]
    not_run = [t for t, v in result.traps.items() if v.status == "not_run"]
    text = f"{len(avoided)}/{len(result.traps)} avoided"
    if fell:
        return mark(ctx, "bad", text + f"; fell in: {esc(', '.join(fell))}")
    if not_run:
        return mark(ctx, "none", text + f"; {len(not_run)} not run")
    return mark(ctx, "ok", text)


STATUS_TEXT = {
    "ok": ("ok", "ran"),
    "failed": ("bad", "failed"),
    "timeout": ("time", "timed out"),
    "not_runnable": ("bad", "not runnable"),
    "harness_error": ("warn", "harness error (not the solution's fault)"),
    # Our gaps: grey, never red (schema.STATUS_MEANING says what each means).
    "partial": ("none", "partial"),
    "compiled_not_run": ("none", "compiled (not run: no GPU)"),
    "needs_adapter": ("none", "needs an adapter"),
    "missing_dependency": ("none", "needs a dependency"),
}


_SHORT = {"stale": ("warn", "stale"), "unreadable": ("warn", "result unreadable"), "missing": ("none", "not run"),
          "absent": ("none", "not in this repository"), "unattempted": ("none", "not graded")}


def state(ctx: Context, model: str, cid: str, short: bool = False) -> tuple[str, str]:
    """(kind, marker) of a cell without a usable result, or ("result", "") when there is one.

    short: the marker without its reason, for cells whose row already shows it.
    """
    d = ctx.data
    result = d.result(model, cid)
    if result is not None:
        stale = d.stale_reason(result)
        if not stale:
            return "result", ""
        kind, text = "stale", esc(stale, 160)
    elif (model, cid) in d.unreadable:
        kind, text = "unreadable", "not run: result unreadable (" + esc(d.unreadable[(model, cid)], 120) + ")"
    elif model == REFERENCE:
        kind, text = "missing", f"not run: no reference result (run llmbench validate {esc(cid)})"
    elif (model, cid) in d.solutions:
        kind, text = "missing", "not run: no result yet (run llmbench run)"
    elif d.grade(model, cid) is not None:
        kind, text = "absent", "solution not in this repository"
    else:
        kind, text = "unattempted", "not graded, no solution here"
    symbol, short_text = _SHORT[kind]
    return kind, mark(ctx, symbol, short_text if short else text)


def status_marker(ctx: Context, result: Result, short: bool = False) -> str:
    kind, text = STATUS_TEXT[result.status]
    if short or result.status == "ok" or not result.reason:
        return mark(ctx, kind, text)
    return mark(ctx, kind, f"{text}: {esc(result.reason, 120)}")


def evidence(ctx: Context, model: str, cid: str) -> str:
    """Compile / own tests / conformance / traps, in a few words, for a matrix cell."""
    kind, marker = state(ctx, model, cid)
    if kind != "result":
        return marker
    r = ctx.data.result(model, cid)
    parts = []
    if r.status != "ok":
        parts.append(status_marker(ctx, r))
    if "compile" in r.phases:
        p = r.phases["compile"]
        parts.append(mark(ctx, "ok", "compiles") if p.status == "ok" else phase_summary(ctx, p, "compile"))
    if "own_tests" in r.phases:
        parts.append(phase_summary(ctx, r.phases["own_tests"], "own tests"))
    parts.append(phase_summary(ctx, r.phases.get("conformance"), "conformance"))
    if r.traps:
        parts.append(trap_summary(ctx, r))
    return "<br>".join(parts) if ctx.html else "; ".join(parts)


def flag_text(ctx: Context, grade: str | None, result: Result | None) -> str:
    if ctx.flags is None or grade is None or result is None:
        return ""
    found = ctx.flags(grade, result) or []
    labels = []
    for f in found:
        label = getattr(f, "label", None) or getattr(f, "message", None) or str(f)
        explanation = getattr(f, "explanation", "")
        if ctx.html:
            labels.append(f'<span class="lb-flag" title="{esc_html(explanation)}">⚑ {esc(label, 60)}</span>')
        else:
            labels.append(f"⚑ {esc(label, 60)}")
    return (" " if ctx.html else "; ").join(labels)


def metric_cell(ctx: Context, model: str, cid: str, metric: str, spec: str | None = None, short: bool = False) -> str:
    kind, marker = state(ctx, model, cid, short)
    if kind != "result":
        return marker
    r = ctx.data.result(model, cid)
    m = r.metrics.get(metric)
    if m is not None:
        return fmt_number(m.value, m.unit, spec)
    if r.status != "ok":
        return status_marker(ctx, r, short)
    return mark(ctx, "none", "not measured")
