"""Generated pages (virtual files, never written into docs/): challenges, models, solutions, downloads.

Each function returns a page's markdown. Text a model produced (notes, logs, file names,
sources) only ever enters through Context.raw after escaping or sanitising, so it is
never read as markdown, never scanned for live directives and its links cannot break
the build.
"""
from __future__ import annotations

import json
import re

from ..fidelity import HANDLING
from ..schema import json_schema
from .data import SESSION_LOG, SiteData
from .markers import Directive
from ..vocabulary import result_term, trap_term
from .cells import (
    DOWNLOADS, beyond_summary, challenge_link, clean, downloads_line, evidence, flag_text, how_obtained, maintainer_hint, mark,
    missing_value, model_link, phase_summary, reproduce_command, solution_link, state, status_marker, term_mark,
    trap_summary,
)
from .data import REFERENCE
from .claims import solution_claims
from .context import Context
from .directives import render
from .directives.metrics import chart_anchor
from .text import code, esc, esc_html, fmt_number, pre, sanitised_markdown, table


def _d(name: str, **args) -> Directive:
    return Directive(name, {k: v for k, v in args.items() if v is not None}, 0, False)


def _section(title: str, body: str, anchor: str | None = None) -> str:
    return f"## {title}" + (f" {{#{anchor}}}" if anchor else "") + f"\n\n{body.strip()}\n"


def challenge_page(data: SiteData, cid: str, ctx: Context) -> str:
    """A challenge's page: facts, prompt, the study's prompt, entry points, traps, fidelity, suite
    validation, results, traps by model and charts.

    Args:
        data: The site data.
        cid: The challenge id.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    info = data.challenges[cid]
    spec = info.spec
    facts = [["Difficulty", esc(info.difficulty or "–")], ["Kind", esc(info.kind or "–")]]
    if info.harness:
        facts.append(["Study's coding agent", esc(info.harness)])
    if spec:
        facts.append(["Suite version", esc(spec.suite_version)])
    out = [f"# {esc(info.title)}\n", (esc(info.summary, None) + "\n") if info.summary else "",
           table(["", ""], facts) + "\n"]
    if spec is None:
        out.append(mark(ctx, "none", "this challenge has no folder in challenges/ yet: no prompt, suite or "
                                     "traps to show; the study's grades are listed below.") + "\n")
    else:
        prompt = spec.prompt
        body = ctx.raw(f'<div class="lb-prompt">{sanitised_markdown(prompt)}</div>') if prompt.strip() \
            else mark(ctx, "none", "no PROMPT.md")
        out.append(_section("Prompt", body))
        out.append(_study_prompt_section(data, cid, ctx))
        if spec.entry_points:
            rows = [[f"`{e.name}`", esc(e.signature or "–"), "yes" if e.required else "optional",
                     esc(e.description or "", 200)] for e in spec.entry_points]
            out.append(_section("Entry points", table(["Name", "Signature", "Required", "Description"], rows)))
        if spec.traps:
            rows = [[f"`{t.id}`", f"**{esc(t.title)}**", esc(t.description, 600), esc(t.detection, 400)]
                    for t in spec.traps]
            out.append(_section("Traps", table(["Id", "Trap", "Why it catches solutions", "How the suite detects it"],
                                               rows), "traps"))
        out.append(_fidelity_section(data, cid, ctx))
        out.append(_section("Suite validation", render(_d("controls", challenge=cid), ctx), "suite-validation"))
    out.append(_section("Results", render(_d("results", challenge=cid), ctx), "results"))
    if spec and spec.traps and any(data.has_page(m, cid) for m in data.models):
        out.append(_section("Traps by model", render(_d("traps", challenge=cid), ctx), "traps-by-model"))
    charts = []
    for name in info.metric_names:
        charts.append(f"### {esc(name)} {{#{chart_anchor(name, 'measured')}}}\n\n"
                      + render(_d("chart", challenge=cid, metric=name), ctx))
    for name in data.reported_metrics(cid):
        charts.append(f"### {esc(name)}, reported {{#{chart_anchor(name, 'reported')}}}\n\n"
                      + render(_d("chart", challenge=cid, metric=name, source="reported"), ctx))
    if charts:
        out.append(_section("Charts", "\n\n".join(charts), "charts"))
    hints = []
    for m in [*data.models, REFERENCE]:
        hint = maintainer_hint(ctx, m, cid) if (m == REFERENCE or data.has_page(m, cid)) else ""
        if hint:
            hints.append(f"{'the reference' if m == REFERENCE else esc(data.models[m].name)}: {hint}")
    out.append(maintainer_note(ctx, hints))
    out.append(downloads_line(ctx) + "\n")
    return "\n".join(p for p in out if p)


# ---- fidelity to the study ------------------------------------------------------------

def _study_link(data: SiteData, path: str = "") -> str:
    """The study's public repository at its pinned commit (a file in it when path is given)."""
    s = data.study
    if s is None or not s.source:
        return ""
    if not path:
        return s.source + (f"/tree/{s.commit}" if s.commit else "")
    return f"{s.source}/blob/{s.commit or 'HEAD'}/{path}"


def _study_prompt_section(data: SiteData, cid: str, ctx: Context) -> str:
    """The study's own prompt, from the imported copy, labelled as the study's text."""
    fid = data.fidelity.get(cid)
    parts = []
    if fid is not None:
        parts.append(f"**What the study asked, in short:** {esc(fid.asked, None)}")
        parts.append(f"**The study's prompt files:** {esc(fid.prompt, None)}")
    prompts = data.study_prompts(cid)
    repo = _study_link(data)
    if not prompts:
        where = f" from [its repository]({repo})" if repo else ""
        parts.append(mark(ctx, "none", f"the study's prompt is not in this build: it is brought in{where} by "
                                       "`make study` (or `llmbench import`), never stored in llmbench's repository."))
    elif not data.publish_sources:
        links = ", ".join(f"[{esc(m)}]({_study_link(data, f'{m}/{cid}/PROMPT.md')})" for p in prompts for m in p.models)
        parts.append(mark(ctx, "info", "the study's files are not published on this site (publish_sources: false); "
                                       f"read its prompt at the source: {links}."))
    else:
        for p in prompts:
            link = _study_link(data, f"{p.models[0]}/{cid}/PROMPT.md")
            who = ", ".join(esc(m) for m in p.models)
            label = (f"The study's text, as given to {who}: `{p.models[0]}/{cid}/PROMPT.md`"
                     + (f" ([source]({link}))" if link else "")
                     + ", shown from the imported copy (the published study's words, not llmbench's):")
            summary = "The study's prompt" + (f" for {', '.join(p.models)}" if len(prompts) > 1 else "")
            parts.append(label + "\n\n" + ctx.raw(f'<details class="lb-study-prompt"><summary>{esc_html(summary)}'
                                                   f"</summary>{pre(p.text, 'lb-prompt-text')}</details>"))
    if fid is not None:
        parts.append(f"Every difference from llmbench's prompt and suite: [fidelity to the study]"
                     f"(#fidelity) below and the [fidelity page]({ctx.links.page('fidelity')}).")
    return _section("The study's prompt", "\n\n".join(parts), "study-prompt")


def _difference_rows(fid) -> list[list[str]]:
    return [[f"**{esc(d.topic)}**", esc(d.study, None), esc(d.llmbench, None), esc(d.why, None),
             esc(HANDLING[d.handling])] for d in fid.differences]


def _tier_rows(data: SiteData, cid: str) -> list[list[str]]:
    """Each conformance test of the reference run with its tier (what the suite declared)."""
    ref = data.controls.get(cid, {}).get("reference")
    phase = ref.phases.get("conformance") if ref else None
    rows, seen = [], set()
    for t in phase.tests if phase else []:
        base = t.name.split("[", 1)[0]
        if base in seen:
            continue
        seen.add(base)
        tier = {"prompt": "prompt", "beyond": "beyond the prompt"}.get(t.tier or "", "not declared")
        rows.append([code(base), tier, esc(t.tier_note, 300) or "–", code(t.trap) if t.trap else "–"])
    return rows


def _fidelity_section(data: SiteData, cid: str, ctx: Context) -> str:
    fid = data.fidelity.get(cid)
    parts = []
    if fid is None:
        parts.append(mark(ctx, "warn", "no entry in data/fidelity.toml: the differences from the study's prompt "
                                       "are not documented yet."))
    else:
        parts.append(f"**What llmbench checks:** {esc(fid.checks, None)}")
        if fid.differences:
            parts.append(table(["Topic", "The study", "llmbench", "Why", "Handling"], _difference_rows(fid)))
        for c in fid.contradictions:
            parts.append(f"**Where the study's prompt contradicts itself.** {esc(c.rule, None)} Against it: "
                         f"{esc(c.other, None)} **The suite follows:** {esc(c.follows, None)}")
    rows = _tier_rows(data, cid)
    if rows:
        parts.append("Tiers of the conformance tests (from the reference run): only **prompt** tests decide "
                     "traps, status and grade-versus-evidence flags; tests **beyond the prompt** are shown apart "
                     "and as metrics.\n\n" + table(["Test", "Tier", "Prompt section, or why it goes further", "Trap"],
                                                     rows))
    else:
        parts.append(mark(ctx, "none", "tiers of the conformance tests: no reference run recorded yet"))
    return _section("Fidelity to the study", "\n\n".join(parts), "fidelity")


def fidelity_page(data: SiteData, ctx: Context) -> str:
    """Every difference between the study's prompts and llmbench's suites, per challenge.

    Args:
        data: The site data.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    repo = _study_link(data)
    src = f"[the published study]({repo})" if repo else "the published study"
    out = ["# Fidelity to the study\n",
           f"llmbench re-checks {src}. The study's `<model>/<challenge>/PROMPT.md` files are the authority for "
           "what each model was asked. This page lists, per challenge, what the study asked, what llmbench's "
           "suite checks, and every difference with its reason. Each conformance test declares a tier: "
           "**prompt** (a rule the study's prompt states, or one that follows from it, such as a correct result "
           "on any input its API admits) or **beyond the prompt** (stricter: tighter tolerances, behaviour the "
           "prompt leaves open, extra features, efficiency). Only prompt tests decide traps, status and "
           "grade-versus-evidence flags.\n",
           table(["Handling", "Meaning"], [[esc(k), esc(v)] for k, v in HANDLING.items()]) + "\n"]
    if not data.fidelity:
        out.append(mark(ctx, "none", "data/fidelity.toml is missing: nothing documented") + "\n")
    for cid, info in data.challenges.items():
        fid = data.fidelity.get(cid)
        if fid is None:
            continue
        tiers = _tier_rows(data, cid)
        n_prompt = sum(1 for r in tiers if r[1] == "prompt")
        n_beyond = sum(1 for r in tiers if r[1] == "beyond the prompt")
        body = [f"[Challenge page]({ctx.links.page(f'challenges/{cid}')}) · prompt files: {esc(fid.prompt, None)}",
                f"**The study asked:** {esc(fid.asked, None)}",
                f"**llmbench checks:** {esc(fid.checks, None)}"
                + (f" ({n_prompt} prompt tests, {n_beyond} beyond the prompt in the reference run.)" if tiers else "")]
        if fid.differences:
            body.append(table(["Topic", "The study", "llmbench", "Why", "Handling"], _difference_rows(fid)))
        for c in fid.contradictions:
            body.append(f"**Contradiction in the study's prompt.** {esc(c.rule, None)} Against it: "
                        f"{esc(c.other, None)} **The suite follows:** {esc(c.follows, None)}")
        out.append(_section(esc(info.title), "\n\n".join(body), f"fidelity-{cid}"))
    return "\n".join(out)


def model_page(data: SiteData, mid: str, ctx: Context) -> str:
    """A model's page: facts, then its grade, evidence and flags per challenge.

    Args:
        data: The site data.
        mid: The model id.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    info = data.models[mid]
    facts = [["Provider", esc(info.provider or "–")]]
    if info.note:
        facts.append(["Note", esc(info.note, None)])
    facts.append(["In the published study", "yes" if info.in_study else "no"])
    n_sol = sum(1 for (m, _c) in data.solutions if m == mid)
    facts.append(["Solutions in this repository",
                  str(n_sol) if n_sol else mark(ctx, "none", "none: solutions not in this repository")])
    rank = next((e for e in data.study.ranking if e.model == mid), None) if data.study else None
    if rank:
        facts.append(["Published rank", f"{rank.rank} (average grade {esc(rank.average)}, by {esc(data.study.judge)})"])
    rows = []
    for cid, cinfo in data.challenges.items():
        if not data.has_page(mid, cid):
            continue
        grade = data.grade(mid, cid)
        kind, marker = state(ctx, mid, cid)
        r = data.result(mid, cid) if kind == "result" else None
        rows.append([challenge_link(ctx, cid), esc(cinfo.harness or "–"),
                     solution_link(ctx, mid, cid, f"**{esc(grade)}**" if grade else "no grade"),
                     evidence(ctx, mid, cid), flag_text(ctx, grade, r) or "–", how_obtained(ctx, r)])
    body = (table(["Challenge", "Study's coding agent", "Judge grade", "Evidence", "Flags", "How obtained"], rows)
            if rows else mark(ctx, "none", "no graded, imported or run solution"))
    return "\n".join([f"# {esc(info.name)}\n", table(["", ""], facts) + "\n",
                      _section("Across challenges", body, "across-challenges"), downloads_line(ctx) + "\n"])


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else (f"{n / 1024:.1f} KiB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.1f} MiB")


def solution_page(data: SiteData, mid: str, cid: str, ctx: Context) -> str:
    """One solution's page: grade, status, tests, traps, metrics, adapter, provenance, notes and files.

    Text the model produced enters only escaped or sanitised, through ctx.raw.

    Args:
        data: The site data.
        mid: The model id.
        cid: The challenge id.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    minfo, cinfo = data.models[mid], data.challenges[cid]
    grade = data.grade(mid, cid)
    kind, marker = state(ctx, mid, cid)
    r = data.result(mid, cid) if kind == "result" else None
    out = [f"# {esc(minfo.name)} · {esc(cinfo.title)}\n",
           f"Model: {model_link(ctx, mid)} · Challenge: {challenge_link(ctx, cid)}\n"]
    summary = []
    if grade:
        judge = esc(data.study.judge) if data.study else "the judge"
        summary.append(["Judge grade", f"**{esc(grade)}** (by {judge}; an opinion, not a measurement)"])
    else:
        summary.append(["Judge grade", "no grade"])
    summary.append(["Status", status_marker(ctx, r) if r else marker])
    if r is not None:
        flags = ctx.flags(grade, r) if ctx.flags and grade else []
        for f in flags or []:
            summary.append(["⚑ " + esc(getattr(f, "label", str(f))), esc(getattr(f, "explanation", ""), 400)])
        for name, label in (("compile", "compile"), ("own_tests", "own tests"), ("conformance", "conformance")):
            if name in r.phases or name != "compile":
                summary.append([label.capitalize(), phase_summary(ctx, r.phases.get(name), label)])
        summary.append(["Traps", trap_summary(ctx, r)])
        if r.phases.get("conformance") is not None and r.phases["conformance"].beyond_counts:
            summary.append(["Beyond the prompt", beyond_summary(ctx, r.phases["conformance"])
                            + " (stricter than the study's prompt: never a trap or a status; see the "
                              f"[fidelity page]({ctx.links.page('fidelity')}))"])
        summary.append(["How obtained", how_obtained(ctx, r)])
        summary.append(["Lines of code", loc_text(data, mid, cid, r)])
        summary.append(["Run time", f"{r.duration_s:.1f} s"])
        summary.append(["Produced", esc(r.provenance.date or "unknown") + " (from the result's provenance)"])
        summary.append(["Reproduce", code(reproduce_command(mid, cid))])
    if cinfo.harness:
        summary.append(["Study's coding agent", esc(cinfo.harness)])
    out.append(_section("Summary", table(["", ""], summary), "summary"))
    out.append(solution_claims(data, mid, cid, ctx))  # the study's claims about this solution, with verdicts

    if r is not None and r.traps:
        spec = cinfo.spec
        rows = []
        for tid, v in r.traps.items():
            title = spec.trap(tid).title if spec and tid in spec.trap_ids else tid
            verdict = term_mark(ctx, trap_term(v))
            rows.append([f"{esc(title)} ({code(tid)})", verdict, clean(ctx, v.reason, 300) or "–",
                         esc(", ".join(v.tests), 300) or "–"])
        out.append(_section("Traps", table(["Trap", "Verdict", "Reason", "Tests"], rows), "traps"))
    if r is not None:
        out.append(_section("Tests", render(_d("tests", model=mid, challenge=cid), ctx), "tests"))
        out.append(_metrics_section(data, mid, cid, r, ctx))
        out.append(_adapter_section(r, ctx))
        logs = [(name, p.log_tail) for name, p in r.phases.items() if p.log_tail.strip()]
        if logs and data.publish_sources:  # tracebacks quote the solution's code
            blocks = "\n\n".join(f"**{esc(name)}** (last lines)\n\n" + ctx.raw(pre(tail[-20000:])) for name, tail in logs)
            out.append(_section("Logs", blocks, "logs"))
    else:
        reported = _reported_rows(data, mid, cid)
        if reported:
            out.append(_section("Reported figures", table(["Metric", "Value", "Reported by"], reported), "reported"))
    out.append(_files_section(data, mid, cid, ctx))
    if r is not None:
        out.append(_section("Provenance", render(_d("provenance", model=mid, challenge=cid), ctx), "provenance"))
    hint = maintainer_hint(ctx, mid, cid)
    if r is not None and result_term(r).gap:
        hint = {"needs_adapter": f"write an adapter in `adapters/{mid}/{cid}/` (see Writing an adapter)",
                "missing_dependency": "install the dependency, or record why it cannot be installed",
                "harness_error": "fix the harness, then re-run: " + reproduce_command(mid, cid)}.get(
            result_term(r).id, hint)
    out.append(maintainer_note(ctx, [hint] if hint else []))
    out.append(downloads_line(ctx) + "\n")
    return "\n".join(p for p in out if p)


def maintainer_note(ctx: Context, hints: list[str]) -> str:
    """Instructions for maintainers, collapsed so that readers are not addressed by them.

    Args:
        ctx: The page's context.
        hints: One instruction each (markdown).

    Returns:
        A collapsed note, or '' without hints.
    """
    if not hints:
        return ""
    items = "\n".join(f"- {h}" for h in hints)
    return f'??? note "For maintainers"\n\n' + "\n".join("    " + line for line in items.splitlines()) + "\n"


LOC_RULE = "non-blank, non-comment lines of the code files"
# runner.CODE_SUFFIXES (a test keeps them equal): importing the runner for it would load the
# whole harness (sandbox, kinds, phases) into every site build.
CODE_SUFFIXES = (".py", ".cu", ".cuh", ".c", ".cpp", ".h")


def code_lines(f) -> int | None:
    """Lines of code of one file, counted as the runner counts them.

    Args:
        f: A solution file (`data.SourceFile`).

    Returns:
        The count, or None for a file that is not code (or not published).
    """
    if f.text is None or not f.path.endswith(CODE_SUFFIXES):
        return None
    return sum(1 for line in f.text.splitlines() if line.strip() and not line.strip().startswith(("#", "//")))


def loc_text(data: SiteData, mid: str, cid: str, r) -> str:
    """Lines of code as counted by the run, saying what is counted (the files table shows the same count).

    Args:
        data: The site data.
        mid: The model id.
        cid: The challenge id.
        r: The result, or None.

    Returns:
        Markdown.
    """
    if not r.loc:
        return "–"
    return f"{r.loc:,} ({LOC_RULE})"


_PY_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)
_C_DEF = re.compile(r"^[ \t]*(?:template[^\n]*\n[ \t]*)?(?:__global__|__device__|__host__|static|inline|void|int|float|"
                    r"double|bool|auto|struct|class)[\w\s\*&<>:,]*?\b([A-Za-z_]\w*)[ \t]*\(", re.M)


def defined_names(files) -> list[str]:
    """Function and class names a solution defines (for search: names, never whole files).

    Args:
        files: The solution's files (`data.SourceFile`).

    Returns:
        The names in the order found, without repeats (at most 300).
    """
    names: list[str] = []
    for f in files:
        if f.text is None:
            continue
        if f.path.endswith(".py"):
            found = _PY_DEF.findall(f.text)
        elif f.path.endswith((".cu", ".cuh", ".c", ".cpp", ".h")):
            found = [n for n in _C_DEF.findall(f.text) if n not in ("if", "for", "while", "switch", "return")]
        else:
            continue
        names.extend(n for n in found if n not in names)
    return names[:300]


def _reported_rows(data: SiteData, mid: str, cid: str) -> list[list[str]]:
    rows = []
    for name in data.reported_metrics(cid):
        rep = data.reported(mid, cid, name)
        if rep is not None:
            value, unit, who = rep
            rows.append([esc(name), fmt_number(value, unit) if not isinstance(value, str) else esc(value), esc(who)])
    return rows


def _metrics_section(data: SiteData, mid: str, cid: str, r, ctx: Context) -> str:
    parts = []
    spec = data.challenges[cid].spec
    names = list(dict.fromkeys([*(m.name for m in spec.metrics), *r.metrics] if spec else list(r.metrics)))
    rows = []
    for name in names:
        m = r.metrics.get(name)
        if m is None:
            rows.append([esc(name), term_mark(ctx, missing_value(r)), "–", "–"])
        else:
            rows.append([esc(name), fmt_number(m.value, m.unit), esc(m.better), esc(m.test, 120) or "–"])
    if rows:
        parts.append("Measured by llmbench:\n\n" + table(["Metric", "Value", "Better", "Test"], rows))
    reported = _reported_rows(data, mid, cid)
    if reported:
        parts.append("Reported, not reproduced:\n\n" + table(["Metric", "Value", "Reported by"], reported))
    disagree = [[esc(name), fmt_number(c.value, rep.unit) if not isinstance(c.value, str) else esc(c.value),
                 esc(c.source), str(c.line or "–"), esc(c.context, 160) or "–"]
                for name, rep in r.reported.items() for c in rep.candidates]
    if disagree:
        parts.append("The solution's files disagree; every figure found (the first per metric is the one "
                     "shown above: labelled final, post-training or validation before unlabelled, and "
                     "pre-training or baseline last):\n\n"
                     + table(["Metric", "Value", "File", "Line", "Label"], disagree))
    if not parts:
        return ""
    return _section("Metrics", "\n\n".join(parts), "metrics")


def _adapter_section(r, ctx: Context) -> str:
    a = r.adapter
    if a.kind == "none":
        return _section("Adapter", "None: the solution is called through the canonical entry points as written.",
                        "adapter")
    if a.kind == "no_adapter":
        body = ("No adapter: a maintainer found no thin adapter that maps this solution onto the canonical "
                "API without changing what it does, so the conformance suite did not run. Why: "
                f"{esc(a.no_adapter)}")
        if a.notes:
            body += "\n\n" + ctx.raw(pre(a.notes, "lb-notes"))
        return _section("Adapter", body, "adapter")
    rows = [[code(k), esc(v)] for k, v in a.mapping.items()]
    body = f"Kind: **{esc(a.kind)}** (written by a maintainer, not by the model)."
    if a.harness:
        body += f" Harness: {esc(a.harness)}."
    if rows:
        body += "\n\n" + table(["Canonical entry point", "Solution's name"], rows)
    if a.notes:
        body += "\n\n" + ctx.raw(pre(a.notes, "lb-notes"))
    return _section("Adapter", body, "adapter")


def _files_section(data: SiteData, mid: str, cid: str, ctx: Context) -> str:
    if (mid, cid) not in data.solutions:
        text = ("Solution not in this repository: the study's code is not redistributed with llmbench. "
                "Import it with `llmbench import` to run it here.")
        return _section("Files", mark(ctx, "none", text), "files")
    files = data.files(mid, cid)
    parts = []
    if not data.publish_sources:
        parts.append(mark(ctx, "info", "sources, notes and logs of this study are not published "
                                       "(publish_sources: false): results only."))
    else:
        for note in data.notes(mid, cid):
            if note.text is not None:
                parts.append(f"**The model's notes: {esc(note.path)}**\n\n"
                             + ctx.raw(f'<div class="lb-notes">{sanitised_markdown(note.text)}</div>'))
    stats = data.session_stats(mid, cid)
    if stats is not None:
        rows = [["records", str(stats.records)], ["unreadable lines", str(stats.unreadable)],
                ["tool calls", str(stats.tool_calls)], ["size", _size(stats.bytes)]]
        rows += [[f"records of type {esc(k)}", str(v)] for k, v in stats.kinds.items()]
        if stats.first:
            rows.append(["time span", esc(f"{stats.first} … {stats.last}")])
        parts.append("Session log (session.jsonl):\n\n" + table(["", ""], rows))
    if data.publish_sources:
        def lines(f) -> str:
            if f.path == SESSION_LOG:
                return "session log (statistics above)"
            if f.text is None:
                return "binary or link: not shown"
            return str(f.text.count("\n") + 1) + (" (truncated)" if f.truncated else "")

        def loc(f) -> str:
            n = code_lines(f)
            return "–" if n is None else f"{n:,}"

        rows = [[esc(f.path, 160), _size(f.size), lines(f), loc(f)] for f in files]
        if rows:
            parts.append(table(["File", "Size", "Lines", "Lines of code"], rows)
                         + f"\n\nLines of code: {LOC_RULE}, as in the summary.")
        names = defined_names(files)
        if names:
            parts.append("**Names defined** (functions and classes, searchable): "
                         + ", ".join(code(n) for n in names))
        sources = []
        for f in files:
            if f.text is None or f in data.notes(mid, cid) or f.path.endswith(".jsonl"):
                continue
            note = ' <span class="lb-muted">(truncated)</span>' if f.truncated else ""
            sources.append(f'<details class="lb-source" data-search-exclude><summary>{esc_html(f.path)}{note}</summary>'
                           f"{ctx.charts.highlight(f.text, f.path)}</details>")
        if sources:
            parts.append(ctx.raw("\n".join(sources)))
    if not parts:
        parts.append(mark(ctx, "none", "no files"))
    return _section("Files", "\n\n".join(parts), "files")


def statuses_page(ctx: Context) -> str:
    """The Statuses page: the glossary the legends link to, one vocabulary for every page.

    Args:
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    return ("# Statuses\n\n"
            "Every state the site shows, with its glyph, word and colour. A glyph stands for one kind of state; "
            "the word says which. **Grey ◌ is our gap**: the harness or this machine could not judge the "
            "solution (no adapter, no GPU, a dependency we do not install, a harness error, a check stricter "
            "than the study's prompt). It is never red, never a flag, and never counted in the evidence "
            "ranking. **Red is for what the solution did.**\n\n"
            + render(_d("statuses"), ctx) + "\n\n" + _flag_rules() + "\n")


def _flag_rules() -> str:
    """The grade-versus-evidence rules, from llmbench.evidence (the methodology page explains them)."""
    from ..evidence import HIGH_GRADE, LOW_GRADE, RULES

    rows = [[f"⚑ {esc(label)}", esc(when), f"`{rule}`"] for rule, (label, when) in RULES.items()]
    return ("## Flags {#flags}\n\n"
            f"A ⚑ flag marks a judge's grade that the evidence contradicts: a high grade ({HIGH_GRADE} or better) "
            f"with failing evidence, or a low grade ({LOW_GRADE} or worse) where every check passes. Our gaps "
            "(grey ◌) never raise a flag.\n\n" + table(["Flag", "Fires when", "Rule"], rows))


def challenges_index(data: SiteData, ctx: Context) -> str:
    """The Challenges index: every challenge with difficulty, kind and trap count.

    Args:
        data: The site data.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    return "# Challenges\n\n" + render(_d("challenges"), ctx) + "\n"


def models_index(data: SiteData, ctx: Context) -> str:
    """The Models index: every model with provider and what this repository holds of it.

    Args:
        data: The site data.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    intro = ("Models of the published study and any model whose solutions this repository holds. "
             "Grades are the study's LLM judge's; evidence is llmbench's.")
    return f"# Models\n\n{intro}\n\n" + render(_d("models"), ctx) + "\n"


def analysis_index(pages: list[tuple[str, str]], ctx: Context) -> str:
    """The Analysis index, when analysis/ has no index.md of its own.

    Args:
        pages: (src_uri, title) of the analysis pages.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    if not pages:
        return "# Analysis\n\nNo analysis pages yet: add markdown files to analysis/.\n"
    items = "\n".join(f"- [{esc(title)}]({ctx.links._rel(uri)})" for uri, title in pages)
    return f"# Analysis\n\n{items}\n"


def downloads_page(data: SiteData, ctx: Context) -> str:
    """The Downloads page: the result files and the fields of the result schema.

    Args:
        data: The site data.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    schema = json_schema()
    rows = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or (prop.get("$ref", "").rsplit("/", 1)[-1]) or "see schema"
        rows.append([f"`{name}`", esc(kind), "yes" if name in schema.get("required", []) else "no"])
    links = "\n".join(f"- [{label}]({ctx.links.file(path)})" for label, path in (
        ("results.json", DOWNLOADS["JSON"]), ("results.csv", DOWNLOADS["CSV"]),
        ("result.schema.json", DOWNLOADS["schema"]), ("study.json", "downloads/study.json")))
    return (
        "# Downloads\n\n"
        f"{links}\n\n"
        "`results.json` holds every result file of `results/` (solutions and controls) as one list of "
        "objects following the schema. `results.csv` has one row per solution with its counts, trap "
        "verdicts, measured metrics (columns `metric:<name>`) and the judge's grade. `study.json` holds "
        "the published study's facts (grades and reported figures are opinions and claims, not measurements).\n\n"
        "## Result fields\n\n" + table(["Field", "Type", "Required"], rows) + "\n"
    )


# ---- download files ----------------------------------------------------------------------

def results_json(data: SiteData) -> str:
    """downloads/results.json: every solution result, then every control run.

    Args:
        data: The site data.

    Returns:
        JSON text (sorted keys: the same results give the same bytes).
    """
    items = [r.model_dump(mode="json") for _, r in sorted(data.results.items())]
    for cid in sorted(data.controls):
        items += [r.model_dump(mode="json") for _, r in sorted(data.controls[cid].items())]
    return json.dumps(items, indent=1, sort_keys=True) + "\n"


def results_csv(data: SiteData) -> str:
    """downloads/results.csv: one row per solution result, one column per metric.

    Args:
        data: The site data.

    Returns:
        CSV text.
    """
    import csv
    import io

    metrics = sorted({f"metric:{name}" for r in data.results.values() for name in r.metrics})
    headers = ["model", "challenge", "status", "reason", "judge_grade", "own_tests_passed", "own_tests_ran",
               "conformance_passed", "conformance_ran", "traps_avoided", "traps_fell_in", "traps_not_run",
               "fell_in", "adapter", "loc", "date", "suite_version", "key", *metrics]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    for (mid, cid), r in sorted(data.results.items()):
        def ran(name):
            p = r.phases.get(name)
            if p is None:
                return "", ""
            c = p.counts if any(k in p.counts for k in ("passed", "failed")) else \
                {o: sum(1 for t in p.tests if t.outcome == o) for o in ("passed", "failed", "error", "timeout")}
            return c.get("passed", 0), sum(c.get(k, 0) for k in ("passed", "failed", "error", "timeout"))
        verdicts = [v.status for v in r.traps.values()]
        row = [mid, cid, r.status, " ".join(r.reason.split()), data.grade(mid, cid) or "", *ran("own_tests"),
               *ran("conformance"), verdicts.count("avoided"), verdicts.count("fell_in"), verdicts.count("not_run"),
               ";".join(sorted(t for t, v in r.traps.items() if v.status == "fell_in")), r.adapter.kind, r.loc,
               r.provenance.date, r.provenance.suite_version, r.key]
        row += [repr(r.metrics[m[7:]].value) if m[7:] in r.metrics else "" for m in metrics]
        writer.writerow(row)
    return buf.getvalue()


def study_json(data: SiteData) -> str:
    """downloads/study.json: the published study's facts (source, judge, models, challenges, grades).

    Args:
        data: The site data.

    Returns:
        JSON text ("{}" when there is no study).
    """
    s = data.study
    if s is None:
        return "{}\n"
    out = {
        "title": s.title, "source": s.source, "commit": s.commit, "judge": s.judge, "grade_scale": s.grade_scale,
        "models": [m.__dict__ for m in s.models], "challenges": [c.__dict__ for c in s.challenges],
        "grades": s.grades, "ranking": [e.__dict__ for e in s.ranking], "reported": s.reported,
    }
    return json.dumps(out, indent=1, sort_keys=True) + "\n"


def schema_json() -> str:
    """downloads/result.schema.json: the JSON schema of a result file.

    Returns:
        JSON text.
    """
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"
