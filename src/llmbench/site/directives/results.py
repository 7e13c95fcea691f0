"""Directives showing one challenge's results: the results table, trap verdicts, one solution's tests."""
from __future__ import annotations

from ...vocabulary import outcome_term, trap_term
from ..cells import (beyond_summary, clean, how_obtained, mark, metric_cell, models_of, phase_summary,
                     solution_link, state, status_marker, term_mark, trap_summary)
from ..context import Context
from ..data import REFERENCE
from ..markers import Directive
from ..text import esc, table
from .registry import directive


@directive("results", args={"challenge": "challenge", "models": "models"}, required=("challenge",),
           help="one challenge: status, own tests, conformance, traps, key metrics, adapter per model")
def results(d: Directive, ctx: Context) -> str:
    """`results`: one challenge's results table: grade, status, own tests, conformance, traps, metrics, how obtained.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    cid = d.text("challenge")
    info = data.challenges[cid]
    metrics = info.spec.metrics if info.spec else ()
    rows = []
    for m in models_of(ctx, d, cid) + ([REFERENCE] if data.result(REFERENCE, cid) else []):
        grade = data.grade(m, cid) if m != REFERENCE else None
        name = "reference (llmbench)" if m == REFERENCE else solution_link(ctx, m, cid, esc(data.models[m].name))
        kind, marker = state(ctx, m, cid)
        r = data.result(m, cid) if kind == "result" else None
        row = [name, esc(grade) if grade else ("–" if m == REFERENCE else "no grade")]
        if r is None:
            short = state(ctx, m, cid, short=True)[1]
            row += [marker, short, short, short, short]
        else:
            row += [status_marker(ctx, r, short=how_explains(r)), phase_summary(ctx, r.phases.get("own_tests"), "own tests"),
                    phase_summary(ctx, r.phases.get("conformance"), "conformance"), trap_summary(ctx, r),
                    beyond_summary(ctx, r.phases.get("conformance"))]
        row += [metric_cell(ctx, m, cid, ms.name, short=True) for ms in metrics]
        row.append(how_obtained(ctx, r))
        rows.append(row)
    if not rows:
        return mark(ctx, "none", f"no solutions of {esc(cid)} yet")
    headers = ["Model", "Judge grade", "Status", "Own tests", "Conformance", "Traps", "Beyond the prompt"]
    headers += [esc(ms.name) + (f" ({esc(ms.unit)})" if ms.unit else "") for ms in metrics] + ["How obtained"]
    return table(headers, rows)


def how_explains(r) -> bool:
    """True when the "How obtained" column already says why the result could not run.

    Args:
        r: A result.

    Returns:
        Whether the status cell can stay short.
    """
    from ...vocabulary import result_term

    return result_term(r).gap or r.status == "not_runnable"


@directive("traps", args={"challenge": "challenge", "models": "models"}, required=("challenge",),
           help="one challenge: trap x model verdicts")
def traps(d: Directive, ctx: Context) -> str:
    """`traps`: one challenge's trap x model verdicts.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    cid = d.text("challenge")
    info = data.challenges[cid]
    if not info.spec or not info.spec.traps:
        return mark(ctx, "none", f"no traps defined for {esc(cid)} (no challenge.toml traps)")
    models = models_of(ctx, d, cid)
    if not models:
        return mark(ctx, "none", f"no solutions of {esc(cid)} yet")
    rows = []
    for trap in info.spec.traps:
        row = [f"{esc(trap.title)} (`{trap.id}`)"]
        for m in models:
            kind, marker = state(ctx, m, cid, short=True)
            if kind != "result":
                row.append(marker)
                continue
            v = data.result(m, cid).traps.get(trap.id)
            if v is None:
                row.append(mark(ctx, "none", "no verdict"))
            else:
                t = trap_term(v)
                detail = clean(ctx, v.reason, 90) if v.status == "not_run" and v.reason else ""
                row.append(term_mark(ctx, t, detail))
        rows.append(row)
    headers = ["Trap"] + [solution_link(ctx, m, cid, esc(data.models[m].name)) for m in models]
    return table(headers, rows)


@directive("tests", args={"model": "model", "challenge": "challenge", "phase": "all|own_tests|conformance"},
           required=("model", "challenge"), help="every test of one solution with outcome, trap and message")
def tests(d: Directive, ctx: Context) -> str:
    """`tests`: every test of one solution with its outcome, trap, duration and message.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    m, cid = d.text("model"), d.text("challenge")
    kind, marker = state(ctx, m, cid)
    if kind != "result":
        return marker
    r = ctx.data.result(m, cid)
    phases = ["own_tests", "conformance"] if d.text("phase", "all") == "all" else [d.text("phase")]
    spec = ctx.data.challenges[cid].spec
    out = []
    for name in phases:
        label = "Own tests" if name == "own_tests" else "Conformance"
        phase = r.phases.get(name)
        summary = phase_summary(ctx, phase, label.lower())
        if phase is None or not phase.tests:
            out.append(f"{label}: {summary}")
            continue
        rows = []
        for t in phase.tests:
            outcome = term_mark(ctx, outcome_term(t))
            trap = ""
            if t.trap:
                title = ""
                if spec is not None and t.trap in spec.trap_ids:
                    title = spec.trap(t.trap).title
                trap = esc(title or t.trap)
            row = [esc(t.name, 120), outcome, trap, f"{t.duration_s:.2f} s", clean(ctx, t.message, 200)]
            if name == "own_tests":
                row.insert(2, "–" if t.asserts is None else str(t.asserts))
            elif any(x.tier for x in phase.tests):
                row.insert(2, {"prompt": "prompt", "beyond": "beyond the prompt"}.get(t.tier or "", "–"))
            rows.append(row)
        headers = ["Test", "Outcome", "Trap", "Duration", "Message"]
        if name == "own_tests":
            headers.insert(2, "Asserts")
        elif any(x.tier for x in phase.tests):
            headers.insert(2, "Tier")
        out.append(f"{label}: {summary}\n\n" + table(headers, rows))
    return "\n\n".join(out)
