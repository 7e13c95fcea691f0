"""Directives listing facts: provenance, the study, the challenges, the models, the downloads."""
from __future__ import annotations

from ..cells import challenge_link, downloads_line, mark, model_link, state
from ..context import Context
from ..markers import Directive
from ..text import esc, table
from .registry import directive


@directive("provenance", args={"model": "model", "challenge": "challenge"},
           help="when, where and with what the results were produced")
def provenance(d: Directive, ctx: Context) -> str:
    """`provenance`: when, where and with what the results (or one result) were produced.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    m, cid = d.text("model"), d.text("challenge")
    if m and cid:
        kind, marker = state(ctx, m, cid)
        r = data.result(m, cid)
        if r is None:
            return marker
        p = r.provenance
        rows = [[esc(k), esc(v) if v not in ("", None) else "–"] for k, v in p.model_dump().items()]
        rows.append(["result key", esc(r.key)])
        return table(["Field", "Value"], rows)
    results = [r for (rm, rc), r in data.results.items() if (not m or rm == m) and (not cid or rc == cid)]
    if not m:  # the controls (reference and mutant runs) are results too
        results += [r for c, runs in data.controls.items() if not cid or c == cid for r in runs.values()]
    if not results:
        return mark(ctx, "none", "no results yet: run llmbench run")
    dates = sorted(r.provenance.date for r in results if r.provenance.date)

    def values(attr: str) -> str:
        found = sorted({str(getattr(r.provenance, attr)) for r in results if getattr(r.provenance, attr) not in ("", None)})
        return esc(", ".join(found), 300) if found else "–"

    rows = [
        ["results", f"{sum(r.run_kind == 'solution' for r in results)} solutions, "
                    f"{sum(r.run_kind != 'solution' for r in results)} control runs"],
        ["produced", esc(f"{dates[0]} … {dates[-1]}" if len(dates) > 1 and dates[0] != dates[-1] else (dates[0] if dates else "unknown"))],
        ["llmbench", values("llmbench_version")], ["harness version", values("harness_version")],
        ["commit", values("commit")], ["Python", values("python")], ["NumPy", values("numpy")],
        ["CPU", values("cpu")], ["GPU", values("gpu")], ["isolation", values("isolation")],
    ]
    return table(["Provenance", "Value"], rows)


@directive("study", help="the published study's facts: source, commit, judge, models, challenges")
def study(d: Directive, ctx: Context) -> str:
    """`study`: the published study's facts.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    s = ctx.data.study
    if s is None:
        return mark(ctx, "none", "no study data (data/study.toml is absent)")
    rows = [
        ["Study", esc(s.title)], ["Source", f"[{esc(s.source)}]({s.source})"], ["Commit", esc(s.commit or "–")],
        ["Judge", esc(s.judge) + " (an LLM: its grades are opinions, not measurements)"],
        ["Grade scale", esc(s.grade_scale or "–")],
        ["Models", ", ".join(model_link(ctx, m.id) for m in s.models)],
        ["Challenges", ", ".join(challenge_link(ctx, c.id) for c in s.challenges)],
    ]
    return table(["Fact", "Value"], rows)


@directive("challenges", help="every challenge with difficulty, kind and trap count")
def challenges(d: Directive, ctx: Context) -> str:
    """`challenges`: every challenge with difficulty, kind, trap count and the study's coding agent.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    rows = []
    for cid, info in ctx.data.challenges.items():
        spec = info.spec
        rows.append([challenge_link(ctx, cid), esc(info.difficulty or "–"), esc(info.kind or "–"),
                     str(len(spec.traps)) if spec else mark(ctx, "none", "no suite here"),
                     esc(info.harness or "–"), esc(info.summary or "", 160)])
    if not rows:
        return mark(ctx, "none", "no challenges")
    return table(["Challenge", "Difficulty", "Kind", "Traps", "Study harness", "Summary"], rows)


@directive("models", help="every model with provider and what this repository holds of it")
def models(d: Directive, ctx: Context) -> str:
    """`models`: every model with its provider and what this repository holds of it.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    rows = []
    for mid, info in ctx.data.models.items():
        n_sol = sum(1 for (m, _c) in ctx.data.solutions if m == mid)
        n_res = sum(1 for (m, _c) in ctx.data.results if m == mid)
        graded = sum(1 for c in ctx.data.challenges if ctx.data.grade(mid, c))
        rows.append([model_link(ctx, mid), esc(info.provider or "–"), str(graded),
                     str(n_sol) if n_sol else mark(ctx, "none", "solutions not in this repository"), str(n_res),
                     esc(info.note or "", 120)])
    if not rows:
        return mark(ctx, "none", "no models")
    return table(["Model", "Provider", "Graded challenges", "Solutions here", "Results", "Note"], rows)


@directive("downloads", inline=True, help="links to the results as JSON, CSV and the schema")
def downloads(d: Directive, ctx: Context) -> str:
    """`downloads`: links to all results as JSON and CSV and to their schema, inline.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    return downloads_line(ctx)
