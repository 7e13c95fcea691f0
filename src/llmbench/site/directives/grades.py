"""Directives about the study's judgements: the grade matrix, the ranking, contradicted grades and claims."""
from __future__ import annotations

import importlib.util

from ...vocabulary import FLAG
from ..cells import (challenge_link, clean, evidence, flag_text, glyph_cell, legend, mark, model_link, models_of,
                     solution_link, state)
from ..context import Context
from ..markers import Directive
from ..text import esc, esc_html, table
from .registry import directive


@directive("grade-matrix", args={"models": "models", "challenges": "challenges", "evidence": "true|false",
                                 "compact": "true|false"},
           help="judge grades (rows: challenges, columns: models) with llmbench's evidence beside each")
def grade_matrix(d: Directive, ctx: Context) -> str:
    """`grade-matrix`: the judge's grades, rows challenges and columns models, with llmbench's evidence beside each.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    models = models_of(ctx, d)
    cids = list(d.items("challenges") or data.challenges)
    if not models or not cids:
        return mark(ctx, "none", "no models or challenges to show")
    compact = d.text("compact", "false") == "true"
    rows = []
    for cid in cids:
        row = [challenge_link(ctx, cid)]
        for m in models:
            grade = data.grade(m, cid)
            grade_text = f"**{esc(grade)}**" if grade else "no grade"
            cell = solution_link(ctx, m, cid, grade_text)
            if not data.has_page(m, cid):
                cell = mark(ctx, "none", "–", "not graded, no solution here") if compact \
                    else mark(ctx, "none", "not graded, no solution here")
            elif compact:
                t, tip = glyph_cell(ctx, m, cid)
                result = data.result(m, cid) if state(ctx, m, cid)[0] == "result" else None
                glyph = (f'<span class="lb-mark lb-{t.kind}" title="{esc_html(t.word + " · " + tip)}">'
                         f"{t.glyph}</span>") if ctx.html else f"{t.glyph} {t.word}"
                cell += " " + glyph
                flags = flag_text(ctx, grade, result, compact=True)
                if flags:
                    cell += " " + flags
            elif d.text("evidence", "true") == "true":
                sep = "<br>" if ctx.html else " · "
                cell += sep + evidence(ctx, m, cid)
                flags = flag_text(ctx, grade, data.result(m, cid) if state(ctx, m, cid)[0] == "result" else None)
                if flags:
                    cell += sep + flags
            row.append(cell)
        rows.append(row)
    judge = esc(data.study.judge) if data.study else "no judge"
    headers = ["Challenge"] + [model_link(ctx, m) for m in models]
    if compact:
        caption = (f"Grades by the study's LLM judge, {judge} (opinions, not measurements), each with one glyph "
                   "for what llmbench measured; hover a glyph for the details, click a grade for the solution page.")
    else:
        caption = (f"Grades by the study's LLM judge, {judge}: opinions, not measurements. Beside each grade: what "
                   f"llmbench measured (compile, own tests, conformance, traps). Each cell links to its solution page.")
    if ctx.flags is not None:
        caption += " ⚑ marks a grade that the evidence contradicts."
    table_md = table(headers, rows)
    if compact and ctx.html:
        table_md = ctx.raw('<div class="lb-matrix">') + table_md + ctx.raw("</div>")
    return "\n\n".join([caption, table_md, legend(ctx, table_md + caption)])


@directive("ranking", args={"source": "published|evidence"},
           help="the published ranking, verbatim and in order (source=evidence: ranked by measurements)")
def ranking(d: Directive, ctx: Context) -> str:
    """`ranking`: the published ranking verbatim and in order, or (source=evidence) ranked by measurements.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    if d.text("source", "published") == "evidence":
        return _evidence_ranking(ctx)
    if data.study is None or not data.study.ranking:
        return mark(ctx, "none", "no published ranking (data/study.toml has none)")
    rows = []
    for e in data.study.ranking:
        info = data.models.get(e.model)
        rows.append([str(e.rank), model_link(ctx, e.model), esc(info.provider if info else ""), esc(e.average)])
    src = f"[{esc(data.study.title)}]({data.study.source})"
    caption = (f"The published ranking of {src} (commit {esc(data.study.commit)}), in its published order, "
               f"verbatim: average grades by the study's LLM judge, {esc(data.study.judge)}.")
    return "\n\n".join([caption, table(["Rank", "Model", "Provider", "Average grade (judge)"], rows)])


def _evidence_ranking(ctx: Context) -> str:
    if importlib.util.find_spec("llmbench.evidence") is None:
        return mark(ctx, "none", "evidence ranking unavailable (llmbench.evidence missing)")
    from ...evidence import evidence_ranking

    current = [r for r in ctx.data.results.values() if not ctx.data.stale_reason(r)]  # stale results rank nothing
    rows_in = evidence_ranking(current, {m: i.name for m, i in ctx.data.models.items()})
    rows = []
    for r in rows_in:
        if r.model not in ctx.data.models:
            continue
        judged = r.traps_avoided + r.traps_fell_in + r.traps_unverified
        score = (mark(ctx, "none", "no evidence") if r.trap_score is None
                 else f"{r.traps_avoided} of {judged} ({r.trap_score:.0%})")
        rate = (mark(ctx, "none", "no evidence") if r.conformance_pass_rate is None
                else f"{r.conformance_pass_rate:.0%}" + (f" ({r.conformance_passed} of {r.conformance_ran} tests)"
                                                          if r.conformance_ran else ""))
        counted = f"{r.solutions}" + (f" (+{r.harness_errors} ◌ our gap)" if r.harness_errors and ctx.html is False else
                                      (f' <span class="lb-mark lb-gap" title="not judged: our gap (harness or machine)">'
                                       f"◌ +{r.harness_errors}</span>" if r.harness_errors else ""))
        rows.append([str(r.rank) if r.rank is not None else mark(ctx, "none", "unranked"), model_link(ctx, r.model),
                     score, rate, counted])
    if not rows:
        return mark(ctx, "none", "no results yet: nothing to rank")
    caption = ("Ranking by evidence (llmbench's measurements, no grades): traps avoided of traps judged, then the "
               "conformance pass rate (mean over solutions). Gaps of our harness or machine are left out.")
    return "\n\n".join([caption, table(["Rank", "Model", "Traps avoided", "Conformance passed", "Solutions judged"],
                                       rows)])


@directive("contradicted", help="grades the evidence contradicts, one line each with its reason")
def contradicted(d: Directive, ctx: Context) -> str:
    """`contradicted`: the grades the evidence contradicts, one line each with its reason.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    data = ctx.data
    if ctx.flags is None:
        return mark(ctx, "none", "no grade-versus-evidence rules available")
    lines = []
    for m in data.models:
        for cid in data.challenges:
            grade = data.grade(m, cid)
            if grade is None or state(ctx, m, cid)[0] != "result":
                continue
            found = ctx.flags(grade, data.result(m, cid)) or []
            if not found:
                continue
            text = f"**{esc(grade)}** for {esc(data.models[m].name)} · {esc(data.challenges[cid].title)}"
            why = "; ".join(esc(f.label) for f in found)
            detail = clean(ctx, found[0].explanation.split(", but ", 1)[-1].rstrip("."), 160)
            lines.append(f"- {FLAG} {solution_link(ctx, m, cid, text)}: {why} ({detail})")
    if not lines:
        return mark(ctx, "ok", "the evidence contradicts none of the judge's grades it can check")
    rules = f"[the flag rules]({ctx.links.page('statuses', 'flags')})"
    intro = (f"{len(lines)} grades the evidence contradicts ({rules}: a high grade with failing evidence, or a low "
             "grade where every check passes). Gaps of our harness or of this machine never count.")
    return intro + "\n\n" + "\n".join(lines)


@directive("claims", args={"verdict": "contradicted|confirmed|undecided|not-checkable", "limit": "text",
                           "model": "model", "challenge": "challenge"},
           help="the study's claims with one verdict (default: contradicted), strongest first")
def claims(d: Directive, ctx: Context) -> str:
    """`claims`: the study's claims with one verdict, strongest first.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).

    Raises:
        ContentError: limit= is not a whole number of at least 1.
    """
    from ..claims import contradicted_claims

    limit = d.text("limit", "5")
    if not limit.isdigit() or int(limit) < 1:
        raise ctx.fail(d, f"limit={limit} must be a whole number of at least 1")
    return contradicted_claims(ctx.data, ctx, int(limit), d.text("model"), d.text("challenge"),
                               d.text("verdict", "contradicted").replace("-", "_"))
