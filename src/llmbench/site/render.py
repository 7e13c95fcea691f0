"""Renderers of the live directives: pure functions from site data to markdown.

Every renderer takes the parsed directive and a Context (data, where links point, how raw
HTML is carried) and returns markdown. Mistakes in what a contributor wrote raise
ContentError naming the valid choices; missing or failed results render as visible
markers with their reason, never as an empty cell or an old number.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

from ..errors import ContentError
from ..vocabulary import FLAG, FLAG_MEANING, KINDS, TERMS, kinds_in, outcome_term, trap_term
from .cells import (  # noqa: F401  (Context and default_flags are part of this module's API)
    is_rate,
    Context, beyond_summary, challenge_link, clean, default_flags, downloads_line, evidence, flag_text, glyph_cell, how_obtained,
    mark, metric_cell,
    missing_value, model_link, phase_summary, solution_link, state, status_marker, term_mark, trap_summary,
)
from .charts import Bar, bar_chart_svg
from .data import REFERENCE
from .directives import Directive
from .text import esc, esc_html, fmt_number, table

# ---- argument checking ----------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    render: Callable[[Directive, Context], str]
    args: dict[str, str]  # name -> what it names: model, models, challenge, challenges, metric, text, or "a|b|c"
    required: tuple[str, ...] = ()
    inline: bool = False
    help: str = ""


def _check_names(ctx: Context, d: Directive, key: str, values, valid: list[str], what: str) -> None:
    for v in values:
        if v not in valid:
            raise ctx.fail(d, f"unknown {what} '{v}' in {key}=; valid {what}s: {', '.join(valid) or '(none)'}")


def check(d: Directive, ctx: Context) -> Spec:
    spec = DIRECTIVES.get(d.name)
    if spec is None:
        raise ContentError(ctx.path, f"unknown live directive '{d.name}'; valid directives: {', '.join(DIRECTIVES)}", d.line)
    for key in d.args:
        if key not in spec.args:
            raise ctx.fail(d, f"unknown argument '{key}'; valid arguments: {', '.join(spec.args) or '(none)'}")
    for key in spec.required:
        if key not in d.args:
            raise ctx.fail(d, f"missing argument '{key}' (arguments: {', '.join(spec.args)})")
    if d.inline and not spec.inline:
        raise ctx.fail(d, "renders a block: put it on a line of its own")
    data = ctx.data
    models = list(data.models)
    for key, kind in spec.args.items():
        if key not in d.args:
            continue
        values = d.items(key)
        if kind in ("model", "challenge", "text", "metric") and isinstance(d.args[key], tuple):
            raise ctx.fail(d, f"{key}= takes one value, got {', '.join(values)}")
        if kind == "model":
            _check_names(ctx, d, key, values, models + [REFERENCE], "model")
        elif kind == "models":
            _check_names(ctx, d, key, values, models, "model")
        elif kind in ("challenge", "challenges"):
            _check_names(ctx, d, key, values, list(data.challenges), "challenge")
        elif "|" in kind:
            _check_names(ctx, d, key, values, kind.split("|"), f"value of {key}")
    if "metric" in spec.args and "metric" in d.args:
        cid, metric = d.text("challenge"), d.text("metric")
        if d.text("source", "measured") == "reported":
            valid = data.reported_metrics(cid)
            where = "reported for this challenge (data/study.toml or the solutions' own reports)"
        else:
            valid = data.challenges[cid].metric_names
            where = f"in challenges/{cid}/challenge.toml"
            if not valid and data.reported_metrics(cid):
                where += f"; reported figures need source=reported ({', '.join(data.reported_metrics(cid))})"
        if metric not in valid:
            raise ctx.fail(d, f"unknown metric '{metric}' for challenge '{cid}'; valid metrics {where}: "
                              f"{', '.join(valid) or '(none)'}")
    if "format" in d.args:
        try:
            format(1.5, d.text("format"))
        except (ValueError, TypeError):
            raise ctx.fail(d, f"format='{d.text('format')}' is not a Python format spec (e.g. .3g or .2e)") from None
    return spec


def render(d: Directive, ctx: Context) -> str:
    """The fresh content of one directive (checked first)."""
    spec = check(d, ctx)
    return spec.render(d, ctx)


# ---- the directives -----------------------------------------------------------------

def _models_of(ctx: Context, d: Directive, cid: str | None = None) -> list[str]:
    chosen = d.items("models") or tuple(ctx.data.models)
    if cid is None:
        return list(chosen)
    return [m for m in chosen if ctx.data.has_page(m, cid)]


def r_grade_matrix(d: Directive, ctx: Context) -> str:
    data = ctx.data
    models = _models_of(ctx, d)
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


def legend(ctx: Context, text: str) -> str:
    """One line per glyph kind that occurs in text, linking to the glossary ('' when none occurs)."""
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


def r_legend(d: Directive, ctx: Context) -> str:
    kinds = d.items("kinds") or tuple(KINDS)
    return legend(ctx, "".join(KINDS[k].glyph for k in kinds) + FLAG)


def r_statuses(d: Directive, ctx: Context) -> str:
    """The glossary: every kind (glyph, colour, meaning) and every word a reader can meet."""
    rows = []
    for k in KINDS.values():
        words = [t for t in TERMS.values() if t.kind == k.id]
        fault = {True: "the solution", False: "ours (harness or machine)", None: "–"}
        rows.append([mark(ctx, k.id, f"**{esc(k.label)}**"), esc(k.meaning), ""])
        for t in words:
            rows.append([f"&nbsp;&nbsp;{mark(ctx, k.id, esc(t.word))}", esc(t.meaning), fault[t.fault]])
    rows.append([f'<span class="lb-flag">{FLAG} flag</span>' if ctx.html else FLAG, esc(FLAG_MEANING), "–"])
    return table(["Glyph and word", "Meaning", "Whose doing"], rows)


def r_contradicted(d: Directive, ctx: Context) -> str:
    """Grades the evidence contradicts: one line each with its reason and a link to the solution page."""
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


def r_ranking(d: Directive, ctx: Context) -> str:
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
    from ..evidence import evidence_ranking

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


def r_results(d: Directive, ctx: Context) -> str:
    data = ctx.data
    cid = d.text("challenge")
    info = data.challenges[cid]
    metrics = info.spec.metrics if info.spec else ()
    rows = []
    for m in _models_of(ctx, d, cid) + ([REFERENCE] if data.result(REFERENCE, cid) else []):
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
    """True when the "How obtained" column already says why the result could not run."""
    from ..vocabulary import result_term

    return result_term(r).gap or r.status == "not_runnable"


def r_traps(d: Directive, ctx: Context) -> str:
    data = ctx.data
    cid = d.text("challenge")
    info = data.challenges[cid]
    if not info.spec or not info.spec.traps:
        return mark(ctx, "none", f"no traps defined for {esc(cid)} (no challenge.toml traps)")
    models = _models_of(ctx, d, cid)
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
    return f"chart-{'reported-' if source == 'reported' else ''}{metric}"


def r_chart(d: Directive, ctx: Context) -> str:
    cid, metric = d.text("challenge"), d.text("metric")
    source = d.text("source", "measured")
    label = f"{metric} ({'reported, not reproduced' if source == 'reported' else 'measured by llmbench'})"
    title = d.text("title") or f"{ctx.data.challenges[cid].title}: {label}"
    if not ctx.inline_svg:
        url = ctx.links.page(f"challenges/{cid}", chart_anchor(metric, source))
        return f"[Chart: {esc(title)}]({url})"
    models = _models_of(ctx, d, cid)
    bars, unit, better, reference = _chart_bars(ctx, cid, metric, source, models)
    if not any(b.value is not None for b in bars):
        what = "reported" if source == "reported" else "measured"
        why = _missing_text(bars)
        return mark(ctx, "none", f"no {what} values of {esc(metric)} yet" + (f" ({esc(why, 300)})" if why else ""))
    key = (title, tuple(bars), unit, better, reference, d.text("scale", "auto"))
    if key not in ctx.charts:
        scale = d.text("scale", "auto")
        if scale == "auto" and is_rate(metric, unit):
            scale = "rate"
        ctx.charts[key] = bar_chart_svg(title, bars, unit, better, reference, scale)
    missing = _missing_text(bars)
    caption = esc_html(label) + (f". No value: {esc_html(missing[:400])}" if missing else "")
    html = (f'<figure class="lb-chart" data-search-exclude>{ctx.charts[key]}'
            f"<figcaption>{caption}</figcaption></figure>")
    return ctx.raw(html)


def r_value(d: Directive, ctx: Context) -> str:
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


def r_tests(d: Directive, ctx: Context) -> str:
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


def r_controls(d: Directive, ctx: Context) -> str:
    data = ctx.data
    cid = d.text("challenge")
    spec = data.challenges[cid].spec
    if spec is None:
        return mark(ctx, "none", f"no challenge suite for {esc(cid)} in this repository")
    runs = data.controls.get(cid, {})
    rows = []
    ref = runs.get("reference")
    if ref is None:
        rows.append(["reference", "avoids every trap", mark(ctx, "none", f"not run (run llmbench validate {esc(cid)})")])
    else:
        fell = [t for t, v in ref.traps.items() if v.status == "fell_in"]
        if data.stale_reason(ref):
            verdict = mark(ctx, "warn", esc(data.stale_reason(ref), 160))
        elif ref.status != "ok":
            verdict = status_marker(ctx, ref)
        elif fell:
            verdict = mark(ctx, "warn", f"falls into {esc(', '.join(fell))}: the suite or the reference is wrong")
        else:
            verdict = mark(ctx, "ok", f"avoids all {len(ref.traps)} traps; "
                                      + phase_summary(ctx, ref.phases.get("conformance"), "conformance"))
        rows.append(["reference", "avoids every trap", verdict])
    patches = spec.mutant_patches()
    for trap in spec.traps:
        name = f"mutant `{trap.id}`"
        expected = f"falls into {esc(trap.title)}"
        run = runs.get(f"mutant-{trap.id}")
        if trap.id not in patches and run is None:
            rows.append([name, expected, mark(ctx, "warn", "no mutant patch for this trap")])
        elif run is None:
            rows.append([name, expected, mark(ctx, "none", f"not run (run llmbench validate {esc(cid)})")])
        elif data.stale_reason(run):
            rows.append([name, expected, mark(ctx, "warn", esc(data.stale_reason(run), 160))])
        else:
            v = run.traps.get(trap.id)
            if v is not None and v.status == "fell_in":
                rows.append([name, expected, mark(ctx, "ok", "caught: falls into its trap")])
            else:
                why = f"{v.status}" + (f": {v.reason}" if v.reason else "") if v else "no verdict"
                rows.append([name, expected, mark(ctx, "warn", "not caught: " + esc(why, 140))])
    caught = sum(1 for r in rows if "caught: falls" in r[2])
    cheats_caught, cheats_checked = _cheat_rows(ctx, spec, runs, rows)
    caption = (f"Suite validation: the reference must avoid every trap and each mutant (the reference with "
               f"exactly one trap's bug) must fall into its own trap. {caught} of {len(spec.traps)} mutants caught. "
               f"Each cheat (an answer given without doing the work) must fail the suite: "
               f"cheats caught {cheats_caught}/{cheats_checked}"
               + (f" ({len(spec.cheat_names) - cheats_checked} not run here)"
                  if cheats_checked < len(spec.cheat_names) else "") + ".")
    parts = [caption, table(["Run", "Expected", "Outcome"], rows)]
    flakes = _flake_line(ctx, cid)
    if flakes:
        parts.append(flakes)
    return "\n\n".join(parts)


def _flake_line(ctx: Context, cid: str) -> str:
    """Flake rate of the results recorded with `llmbench run --repeat N` ('' when none were)."""
    data = ctx.data
    results = [r for (m, c), r in data.results.items() if c == cid]
    results += list(data.controls.get(cid, {}).values())
    repeated = [r for r in results if len(r.repeat_verdicts) > 1]
    if not repeated:
        return ""
    flaky = [r for r in repeated if len(set(r.repeat_verdicts)) > 1]
    names = ", ".join(esc(r.model if r.run_kind == "solution" else (r.mutant_trap or r.cheat or r.run_kind))
                      for r in flaky[:10])
    return (f"Flake rate: {len(flaky)} of {len(repeated)} results changed verdict when run again "
            f"(`llmbench run --repeat`)" + (f": {names}." if flaky else "."))


def _cheat_rows(ctx: Context, spec, runs: dict, rows: list) -> tuple[int, int]:
    """One row per cheat control; -> (caught, checked)."""
    from ..cheats import GENERIC
    from ..validate import cheat_verdict

    caught = checked = 0
    patches = spec.cheat_patches()
    for name in spec.cheat_names:
        label = f"cheat `{name}`"
        if name in patches:
            first = patches[name].read_text(encoding="utf-8", errors="replace").split("\n--- ", 1)[0].strip()
            expected = esc(first if not first.startswith("--- ") else "the reference taking a forbidden shortcut", 200)
        else:
            expected = esc(GENERIC.get(name, name), 200)
        run = runs.get(f"cheat-{name}")
        if run is None:
            rows.append([label, expected, mark(ctx, "none", f"not run (run llmbench validate {esc(spec.id)})")])
            continue
        if ctx.data.stale_reason(run):
            rows.append([label, expected, mark(ctx, "warn", esc(ctx.data.stale_reason(run), 160))])
            continue
        verdict, why = cheat_verdict(run)
        if verdict == "caught":
            caught += 1
            checked += 1
            rows.append([label, expected, mark(ctx, "ok", "caught: fails " + esc(why, 120))])
        elif verdict == "missed":
            checked += 1
            rows.append([label, expected, mark(ctx, "warn", "NOT caught: " + esc(why, 120) + " (a suite bug)")])
        else:
            rows.append([label, expected, mark(ctx, "none", "not run: " + esc(why, 140))])
    return caught, checked


def r_provenance(d: Directive, ctx: Context) -> str:
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


def r_study(d: Directive, ctx: Context) -> str:
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


def r_challenges(d: Directive, ctx: Context) -> str:
    rows = []
    for cid, info in ctx.data.challenges.items():
        spec = info.spec
        rows.append([challenge_link(ctx, cid), esc(info.difficulty or "–"), esc(info.kind or "–"),
                     str(len(spec.traps)) if spec else mark(ctx, "none", "no suite here"),
                     esc(info.harness or "–"), esc(info.summary or "", 160)])
    if not rows:
        return mark(ctx, "none", "no challenges")
    return table(["Challenge", "Difficulty", "Kind", "Traps", "Study harness", "Summary"], rows)


def r_models(d: Directive, ctx: Context) -> str:
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


def r_downloads(d: Directive, ctx: Context) -> str:
    return downloads_line(ctx)


def r_claims(d: Directive, ctx: Context) -> str:
    from .claims import contradicted_claims

    limit = d.text("limit", "5")
    if not limit.isdigit() or int(limit) < 1:
        raise ctx.fail(d, f"limit={limit} must be a whole number of at least 1")
    return contradicted_claims(ctx.data, ctx, int(limit), d.text("model"), d.text("challenge"),
                               d.text("verdict", "contradicted").replace("-", "_"))


DIRECTIVES: dict[str, Spec] = {
    "grade-matrix": Spec(r_grade_matrix, {"models": "models", "challenges": "challenges", "evidence": "true|false",
                                          "compact": "true|false"},
                         help="judge grades (rows: challenges, columns: models) with llmbench's evidence beside each"),
    "ranking": Spec(r_ranking, {"source": "published|evidence"},
                    help="the published ranking, verbatim and in order (source=evidence: ranked by measurements)"),
    "results": Spec(r_results, {"challenge": "challenge", "models": "models"}, ("challenge",),
                    help="one challenge: status, own tests, conformance, traps, key metrics, adapter per model"),
    "traps": Spec(r_traps, {"challenge": "challenge", "models": "models"}, ("challenge",),
                  help="one challenge: trap x model verdicts"),
    "chart": Spec(r_chart, {"challenge": "challenge", "metric": "metric", "source": "measured|reported",
                            "models": "models", "scale": "auto|linear|log", "title": "text"},
                  ("challenge", "metric"), help="a bar chart of one metric across models"),
    "value": Spec(r_value, {"model": "model", "challenge": "challenge", "metric": "metric",
                            "source": "measured|reported", "format": "text"},
                  ("model", "challenge", "metric"), inline=True, help="one figure, inline"),
    "tests": Spec(r_tests, {"model": "model", "challenge": "challenge", "phase": "all|own_tests|conformance"},
                  ("model", "challenge"), help="every test of one solution with outcome, trap and message"),
    "controls": Spec(r_controls, {"challenge": "challenge"}, ("challenge",),
                     help="suite validation: the reference, each trap's mutant and the cheat controls"),
    "provenance": Spec(r_provenance, {"model": "model", "challenge": "challenge"},
                       help="when, where and with what the results were produced"),
    "study": Spec(r_study, {}, help="the published study's facts: source, commit, judge, models, challenges"),
    "challenges": Spec(r_challenges, {}, help="every challenge with difficulty, kind and trap count"),
    "models": Spec(r_models, {}, help="every model with provider and what this repository holds of it"),
    "downloads": Spec(r_downloads, {}, inline=True, help="links to the results as JSON, CSV and the schema"),
    "claims": Spec(r_claims, {"verdict": "contradicted|confirmed|undecided|not-checkable", "limit": "text",
                              "model": "model", "challenge": "challenge"},
                   help="the study's claims with one verdict (default: contradicted), strongest first"),
    "contradicted": Spec(r_contradicted, {}, help="grades the evidence contradicts, one line each with its reason"),
    "statuses": Spec(r_statuses, {}, help="the status vocabulary: every glyph, word and colour, and whose doing"),
    "legend": Spec(r_legend, {"kinds": "|".join(KINDS)}, help="a legend of the status glyphs"),
}
