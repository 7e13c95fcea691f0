"""Cells: state markers, links and the few words that sum up a result, shared by renderers and pages.

A cell without a usable result shows why (not run, failed, stale, not in this repository)
instead of staying empty or keeping an old number.
"""
from __future__ import annotations

from ..schema import PhaseResult, Result
from .context import Context
from .data import REFERENCE
from .markers import Directive
from ..vocabulary import FLAG, KINDS, TERMS, Term, kinds_in, result_term, status_term, strip_machine_paths, trap_term
from .text import esc, esc_html, fmt_number

DOWNLOADS = {
    "JSON": "downloads/results.json",
    "CSV": "downloads/results.csv",
    "schema": "downloads/result.schema.json",
}
_RAN = ("passed", "failed", "error", "timeout")


# ---- small pieces ------------------------------------------------------------------

def mark(ctx: Context, kind: str, text: str, tip: str = "") -> str:
    """A visible state marker: the kind's glyph and text, coloured on the site.

    Args:
        ctx: The page's context (plain text when not ctx.html).
        kind: A status kind of `vocabulary.KINDS` (ok, bad, time, gap, none, warn, info).
        text: The marker's text, already escaped.
        tip: Plain text shown on hover (details that do not fit the cell).

    Returns:
        A `<span class="lb-mark lb-KIND">` on the site, "GLYPH text" otherwise.
    """
    body = f"{KINDS[kind].glyph} {text}"
    if not ctx.html:
        return body
    title = f' title="{esc_html(tip)}"' if tip else ""
    return f'<span class="lb-mark lb-{kind}"{title}>{body}</span>'


def term_mark(ctx: Context, t: Term, detail: str = "", tip: str = "") -> str:
    """A Term's marker: its glyph, word and an optional detail.

    Args:
        ctx: The page's context.
        t: The vocabulary term.
        detail: Already escaped text after the word ("word: detail").
        tip: Plain text shown on hover.

    Returns:
        The marker (see `mark`).
    """
    return mark(ctx, t.kind, t.word + (f": {detail}" if detail else ""), tip)


def clean(ctx: Context, text: str, limit: int | None = 240) -> str:
    """A message for readers: the build machine's paths removed, then escaped.

    Args:
        ctx: The page's context (its data's root is the path removed).
        text: Untrusted text (a solution's exception, a reason).
        limit: Characters kept; None for all.

    Returns:
        One line of escaped markdown.
    """
    return esc(strip_machine_paths(str(text), (str(ctx.data.root),)), limit)


def model_link(ctx: Context, model: str) -> str:
    """A model's name linking to its page (plain text for a model the site does not know).

    Args:
        ctx: The page's context.
        model: The model id.

    Returns:
        Markdown.
    """
    info = ctx.data.models.get(model)
    name = esc(info.name if info else model)
    return f"[{name}]({ctx.links.page(f'models/{model}')})" if info else name


def challenge_link(ctx: Context, cid: str) -> str:
    """A challenge's title linking to its page.

    Args:
        ctx: The page's context.
        cid: The challenge id (one the site knows).

    Returns:
        Markdown.
    """
    info = ctx.data.challenges[cid]
    return f"[{esc(info.title)}]({ctx.links.page(f'challenges/{cid}')})"


def solution_link(ctx: Context, model: str, cid: str, text: str) -> str:
    """text linking to the solution page of (model, challenge), or text alone when there is none.

    Args:
        ctx: The page's context.
        model: The model id.
        cid: The challenge id.
        text: The link's text, already escaped markdown.

    Returns:
        Markdown.
    """
    if ctx.data.has_page(model, cid):
        return f"[{text}]({ctx.links.page(f'solutions/{model}/{cid}')})"
    return text


def downloads_line(ctx: Context) -> str:
    """"Download all results:" with links to the JSON, the CSV and the schema.

    Args:
        ctx: The page's context.

    Returns:
        One line of markdown.
    """
    links = " · ".join(f"[{k}]({ctx.links.file(v)})" for k, v in DOWNLOADS.items())
    return f"Download all results: {links}"


def counts(phase: PhaseResult) -> dict[str, int]:
    """Outcome counts of a phase, from its counts or else from its test records (tests that decide only).

    Args:
        phase: A phase of a result.

    Returns:
        outcome -> number of tests.
    """
    out = {k: v for k, v in phase.counts.items()}
    if not any(k in out for k in _RAN) and phase.tests:
        for t in phase.tests:
            if t.decides:
                out[t.outcome] = out.get(t.outcome, 0) + 1
    return out


def beyond_summary(ctx: Context, phase: PhaseResult | None) -> str:
    """The conformance tests stricter than the study's prompt: passed / ran.

    They never decide a trap or a status, so a shortfall is shown as information, not as a failure.

    Args:
        ctx: The page's context.
        phase: The conformance phase, or None.

    Returns:
        A marker, or "–" when there are none.
    """
    c = phase.beyond_counts if phase is not None else {}
    ran = sum(c.get(k, 0) for k in _RAN)
    if not ran:
        skipped = c.get("skipped", 0) + c.get("not_run", 0)
        return mark(ctx, "none", f"{skipped} not run") if skipped else "–"
    passed = c.get("passed", 0)
    return mark(ctx, "ok" if passed == ran else "gap", f"{passed}/{ran} passed")


def of(n: int, total: int, noun: str = "") -> str:
    """"3 of 4 tests (75%)": a count with its denominator and share.

    Args:
        n: The count.
        total: The denominator (no share when 0).
        noun: What is counted.

    Returns:
        The text.
    """
    share = f" ({n / total:.0%})" if total else ""
    return f"{n} of {total}{' ' + noun if noun else ''}{share}"


def phase_summary(ctx: Context, phase: PhaseResult | None, label: str) -> str:
    """One phase in a few words: "conformance 4/4 passed", "own tests timed out: ...".

    Args:
        ctx: The page's context.
        phase: The phase, or None when it did not run.
        label: The phase's name as shown ("own tests", "conformance", "compile").

    Returns:
        A marker coloured by the phase's outcome.
    """
    if phase is None:
        return term_mark(ctx, TERMS["not_run"], "", f"{label}: not run")
    c = counts(phase)
    ran = sum(c.get(k, 0) for k in _RAN)
    passed = c.get("passed", 0)
    skipped = c.get("skipped", 0) + c.get("not_run", 0)
    extra = f", {skipped} skipped" if skipped else ""
    t = status_term(phase.status, phase.reason)
    reason = clean(ctx, phase.reason, 80) if phase.reason else ""
    if phase.status == "ok" and ran:
        return mark(ctx, "ok" if passed == ran else "bad", f"{label} {passed}/{ran} passed{extra}")
    if t.gap or phase.status in ("not_run",):
        return term_mark(ctx, t, f"{label}" + (f" ({reason})" if reason else ""))
    if phase.status == "ok":
        return mark(ctx, "none", f"{label}: no tests")
    what = f"{label} {passed}/{ran} passed" if ran and phase.status == "failed" else f"{label} {t.word}"
    return mark(ctx, t.kind, what + extra + (f": {reason}" if reason else ""))


def trap_summary(ctx: Context, result: Result) -> str:
    """A result's trap verdicts in a few words: "2 of 3 judged traps avoided; fell in: t_one".

    Args:
        ctx: The page's context.
        result: The result.

    Returns:
        A marker.
    """
    if not result.traps:
        return mark(ctx, "none", "no trap verdicts")
    terms = {tid: trap_term(v) for tid, v in result.traps.items()}
    avoided = [t for t, v in result.traps.items() if v.status == "avoided"]
    fell = [t for t, v in result.traps.items() if v.status == "fell_in"]
    gaps = [t for t, term in terms.items() if term.gap]
    unjudged = [t for t, v in result.traps.items() if v.status == "not_run" and t not in gaps]
    judged = len(avoided) + len(fell)
    text = f"{len(avoided)} of {judged} judged traps avoided" if judged else "no trap judged"
    if len(result.traps) != judged:
        text += f" ({len(result.traps)} traps)"
    if fell:
        return mark(ctx, "bad", text + f"; fell in: {esc(', '.join(fell))}")
    if gaps and not judged:
        return term_mark(ctx, terms[gaps[0]], f"{len(gaps)} traps not judged")
    if not judged:
        return mark(ctx, "none", f"{len(unjudged)} traps not judged")
    return mark(ctx, "ok", text)


_SHORT = {"stale": "stale", "unreadable": "unreadable", "missing": "missing", "absent": "absent",
          "unattempted": "unattempted"}


def maintainer_hint(ctx: Context, model: str, cid: str) -> str:
    """What a maintainer does about a cell without a usable result.

    Args:
        ctx: The page's context.
        model: The model id (or `_reference`).
        cid: The challenge id.

    Returns:
        The command or step, or '' when there is nothing to do.
    """
    d = ctx.data
    result = d.result(model, cid)
    if result is not None and d.stale_reason(result):
        return "re-run `llmbench run` (the suite changed since this result)"
    if (model, cid) in d.unreadable:
        return "re-run `llmbench run` to replace the unreadable result file"
    if model == REFERENCE and result is None:
        return f"run `llmbench validate {cid}`"
    if result is None and (model, cid) in d.solutions:
        return "run `llmbench run`"
    if result is None and d.grade(model, cid) is not None:
        return "import the study's solutions: `llmbench import PATH` (see Reproduce the study)"
    return ""


def state(ctx: Context, model: str, cid: str, short: bool = False) -> tuple[str, str]:
    """The state of (model, challenge) for a cell: a usable result, or a marker saying why not.

    Maintainer hints (which command to run) never appear here: see `maintainer_hint`.

    Args:
        ctx: The page's context.
        model: The model id (or `_reference`).
        cid: The challenge id.
        short: The marker without its reason, for cells whose row already shows it.

    Returns:
        ("result", "") when there is a current result; otherwise (kind, marker) with kind one
        of stale, unreadable, missing, absent, unattempted.
    """
    d = ctx.data
    result = d.result(model, cid)
    detail = ""
    if result is not None:
        stale = d.stale_reason(result)
        if not stale:
            return "result", ""
        kind, detail = "stale", esc(stale.split(";")[0].removeprefix("stale: "), 160)
    elif (model, cid) in d.unreadable:
        kind, detail = "unreadable", clean(ctx, d.unreadable[(model, cid)], 120)
    elif model == REFERENCE or (model, cid) in d.solutions:
        kind = "missing"
    elif d.grade(model, cid) is not None:
        kind = "absent"
    else:
        kind = "unattempted"
    t = TERMS[_SHORT[kind]]
    return kind, term_mark(ctx, t, "" if short else detail, t.meaning)


def status_marker(ctx: Context, result: Result, short: bool = False) -> str:
    """A result's status as a marker, with its reason unless short or ok.

    Args:
        ctx: The page's context.
        result: The result.
        short: Only the word; the reason goes to the tooltip.

    Returns:
        A marker.
    """
    t = result_term(result)
    reason = clean(ctx, result.reason, 120) if result.reason else ""
    if short or result.status == "ok" or not reason:
        return term_mark(ctx, t, "", strip_machine_paths(result.reason, (str(ctx.data.root),)) or t.meaning)
    return term_mark(ctx, t, reason, t.meaning)


def evidence(ctx: Context, model: str, cid: str) -> str:
    """Compile / own tests / conformance / traps, in a few words, for a grade-matrix cell.

    Args:
        ctx: The page's context.
        model: The model id.
        cid: The challenge id.

    Returns:
        Markers joined by `<br>` on the site, by "; " otherwise.
    """
    kind, marker = state(ctx, model, cid)
    if kind != "result":
        return marker
    r = ctx.data.result(model, cid)
    parts = []
    if r.status != "ok":
        parts.append(status_marker(ctx, r))
    if "compile" in r.phases:
        p = r.phases["compile"]
        if p.status == "ok":
            parts.append(term_mark(ctx, TERMS["compiles"]))
        elif not (r.status != "ok" and p.reason and p.reason in r.reason):  # said once, not twice
            parts.append(phase_summary(ctx, p, "compile"))
    if "own_tests" in r.phases:
        parts.append(phase_summary(ctx, r.phases["own_tests"], "own tests"))
    parts.append(phase_summary(ctx, r.phases.get("conformance"), "conformance"))
    if r.traps:
        parts.append(trap_summary(ctx, r))
    return "<br>".join(parts) if ctx.html else "; ".join(parts)


def glyph_cell(ctx: Context, model: str, cid: str) -> tuple[Term, str]:
    """One Term summing up a solution for the compact matrix, and the text of its tooltip.

    Args:
        ctx: The page's context.
        model: The model id.
        cid: The challenge id.

    Returns:
        (term, tooltip text).
    """
    kind, _ = state(ctx, model, cid)
    if kind != "result":
        t = TERMS[_SHORT[kind]]
        return t, t.meaning
    r = ctx.data.result(model, cid)
    t = result_term(r)
    fell = sorted(tid for tid, v in r.traps.items() if v.status == "fell_in")
    if t.id == "ok" and fell:
        t = TERMS["fell_in"]
    parts = [t.word + (f": {strip_machine_paths(r.reason, (str(ctx.data.root),))}" if r.reason and t.id != "ok" else "")]
    for name, label in (("compile", "compile"), ("own_tests", "own tests"), ("conformance", "conformance")):
        p = r.phases.get(name)
        if p is None:
            continue
        c = counts(p)
        ran = sum(c.get(k, 0) for k in _RAN)
        pt = status_term(p.status, p.reason)
        parts.append(f"{label}: " + (f"{c.get('passed', 0)} of {ran} passed" if ran else pt.word))
    if r.traps:
        avoided = sum(1 for v in r.traps.values() if v.status == "avoided")
        parts.append(f"traps: {avoided} avoided, {len(fell)} fell in, "
                     f"{len(r.traps) - avoided - len(fell)} not judged" + (f" ({', '.join(fell)})" if fell else ""))
    return t, "; ".join(parts)


def flag_text(ctx: Context, grade: str | None, result: Result | None, compact: bool = False) -> str:
    """The grade-versus-evidence flags a grade raises, as markers.

    Args:
        ctx: The page's context (its flags hook decides; none: no flags).
        grade: The judge's grade, or None.
        result: The current result, or None.
        compact: One ⚑ glyph (with a count) instead of each flag's label.

    Returns:
        The flags' markup, or '' when none.
    """
    if ctx.flags is None or grade is None or result is None:
        return ""
    found = ctx.flags(grade, result) or []
    labels = []
    for f in found:
        label = getattr(f, "label", None) or getattr(f, "message", None) or str(f)
        explanation = getattr(f, "explanation", "")
        if ctx.html:
            shown = "⚑" if compact else f"⚑ {esc(label, 60)}"
            labels.append(f'<span class="lb-flag" title="{esc_html(label + ": " + explanation)}">{shown}</span>')
        else:
            labels.append(f"⚑ {esc(label, 60)}")
    if compact and ctx.html and len(labels) > 1:
        return labels[0].replace(">⚑<", f">⚑{len(labels)}<", 1)
    return (" " if ctx.html else "; ").join(labels)


def missing_value(r: Result) -> Term:
    """Why a result has no value of a metric: not measured, or its status (our gap or the solution's).

    Args:
        r: The result.

    Returns:
        The vocabulary term to show.
    """
    return TERMS["not_measured"] if r.status == "ok" else result_term(r)


def metric_cell(ctx: Context, model: str, cid: str, metric: str, spec: str | None = None, short: bool = False) -> str:
    """One metric of one solution for a table cell: the figure, or a marker saying why there is none.

    Args:
        ctx: The page's context.
        model: The model id (or `_reference`).
        cid: The challenge id.
        metric: The metric's name.
        spec: A Python format spec; None: 3-4 significant digits (rates as percentages).
        short: Markers without their reasons.

    Returns:
        Markdown.
    """
    kind, marker = state(ctx, model, cid, short)
    if kind != "result":
        return marker
    r = ctx.data.result(model, cid)
    m = r.metrics.get(metric)
    if m is not None:
        if spec is None and is_rate(metric, m.unit) and 0 <= m.value <= 1:
            return f"{m.value:.0%}"
        return fmt_number(m.value, m.unit, spec)
    if r.status != "ok":
        return status_marker(ctx, r, short)
    return term_mark(ctx, TERMS["not_measured"])


def how_obtained(ctx: Context, r: Result | None) -> str:
    """How a result was obtained: ran as written, through an adapter, or could not run here and why.

    Args:
        ctx: The page's context.
        r: The result, or None.

    Returns:
        Markdown ("–" without a result).
    """
    if r is None:
        return "–"
    t = result_term(r)
    if t.gap:
        why = clean(ctx, r.reason, 100) if r.reason else t.word
        return mark(ctx, "gap", f"could not run here: {why}", t.meaning)
    if r.status == "not_runnable":
        return mark(ctx, "bad", "could not run: " + (clean(ctx, r.reason, 100) if r.reason else t.word))
    if r.adapter.kind != "none":
        return f"through an adapter ({esc(r.adapter.kind)})"
    return "as written"


def reproduce_command(model: str, cid: str) -> str:
    """The exact command that re-runs one solution (or control) from scratch.

    Args:
        model: The model id (or `_reference`).
        cid: The challenge id.

    Returns:
        A shell command.
    """
    if model == REFERENCE:
        return f"llmbench validate {cid}"
    return f"llmbench run --model {model} --challenge {cid} --force"


def is_rate(metric: str, unit: str) -> bool:
    """True for a share of cases (0..1): shown as a percentage, charted on an axis that ends at 100%.

    Args:
        metric: The metric's name (a rate ends with `_rate`).
        unit: Its unit ('' or "fraction" for a rate).

    Returns:
        Whether the metric is a rate.
    """
    return metric.endswith("_rate") and unit in ("", "fraction")


def models_of(ctx: Context, d: Directive, cid: str | None = None) -> list[str]:
    """The models a directive shows: its models= argument, or every model.

    Args:
        ctx: The page's context.
        d: The directive.
        cid: When given, only the models with a solution page for this challenge.

    Returns:
        Model ids in the order asked for (or the site's order).
    """
    chosen = d.items("models") or tuple(ctx.data.models)
    if cid is None:
        return list(chosen)
    return [m for m in chosen if ctx.data.has_page(m, cid)]


def legend(ctx: Context, text: str) -> str:
    """A legend line for every glyph kind that occurs in text, linking to the Statuses page.

    Args:
        ctx: The page's context.
        text: The markdown the legend explains.

    Returns:
        The legend (a paragraph with class lb-legend on the site), or '' when no glyph occurs.
    """
    kinds = kinds_in(text)
    entries = [mark(ctx, k.id, esc(k.label)) for k in kinds]
    if FLAG in text:
        entries.append(f'<span class="lb-flag">{FLAG} grade contradicted</span>' if ctx.html
                       else f"{FLAG} grade contradicted")
    if not entries:
        return ""
    glossary = f"[all statuses]({ctx.links.page('statuses')})"
    body = "Legend: " + " · ".join(entries) + f" · {glossary}"
    return body + "\n{: .lb-legend }" if ctx.html else body
