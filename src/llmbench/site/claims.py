"""Renderers for the study's claims: the claims page, a solution's claims, the strongest contradicted.

Pure: site data in, markdown out. Verdicts come from llmbench.claims.resolve on the current
(non-stale) results; nothing here decides anything on its own.
"""
from __future__ import annotations

from ..claims import KINDS, Claim, Claims, Verdict, counts, resolve, strongest
from ..evidence import grade_points
from .cells import challenge_link, mark, model_link, solution_link
from .context import Context
from .data import SiteData
from .text import esc, esc_html, table

VERDICT_WORDS = {"confirmed": "confirmed", "contradicted": "contradicted", "undecided": "undecided",
                 "not_checkable": "not checkable"}


def verdicts(data: SiteData) -> dict[str, Verdict]:
    """Every claim's verdict, computed once per build from the current (non-stale) results.

    Args:
        data: The site data (the verdicts are cached in it).

    Returns:
        claim id -> verdict.
    """
    key = ("claim-verdicts",)
    if key not in data._cache:
        out = {}
        for c in data.claims.items if data.claims else ():
            r = data.result(c.model, c.challenge)
            stale = data.stale_reason(r) if r is not None else ""
            out[c.id] = (Verdict("undecided", "stale result", stale) if stale and c.decider.kind != "none"
                         else resolve(c, r))
        data._cache[key] = out
    return data._cache[key]


def verdict_marker(ctx: Context, v: Verdict) -> str:
    """A claim's verdict as a marker: confirmed, contradicted, not checkable, or undecided and why.

    Args:
        ctx: The page's context.
        v: The verdict.

    Returns:
        A marker.
    """
    if v.state == "confirmed":
        return mark(ctx, "ok", "confirmed")
    if v.state == "contradicted":
        return mark(ctx, "bad", "contradicted")
    if v.state == "not_checkable":
        return mark(ctx, "info", "not checkable")
    return mark(ctx, "none", f"undecided: {esc(v.why, 40)}")


def _source(ctx: Context, data: SiteData, c: Claim) -> str:
    name = c.source.rsplit("/", 1)[-1]
    if data.study is None:
        return esc(f"{name}:{c.line}")
    return f"[{esc(name)}:{c.line}]({c.source_url(data.study.source, data.study.commit)})"


def _model(ctx: Context, c: Claim) -> str:
    return model_link(ctx, c.model)


def _solution(ctx: Context, data: SiteData, c: Claim, text: str) -> str:
    return solution_link(ctx, c.model, c.challenge, text) if data.has_page(c.model, c.challenge) else text


def _row(ctx: Context, data: SiteData, c: Claim, v: Verdict) -> list[str]:
    return [_solution(ctx, data, c, esc(c.claim, 300)), _model(ctx, c), challenge_link(ctx, c.challenge),
            esc(KINDS[c.kind]), _source(ctx, data, c), esc(c.decider.describe(), 160), verdict_marker(ctx, v),
            esc(v.evidence, 240) or "–"]


HEADERS = ["Claim (our paraphrase)", "Model", "Challenge", "Kind", "Source", "Decided by", "Verdict", "Evidence"]
_FILTER_COLUMNS = (("Model", 1, "exact"), ("Challenge", 2, "exact"), ("Verdict", 6, "contains"))


def _filter_form(ctx: Context, data: SiteData, claims: Claims) -> str:
    """A filter bar for the claims table (client-side; the table works without it)."""
    def names(values):
        return sorted(set(values), key=str.lower)

    options = {
        "Model": names(data.models[c.model].name if c.model in data.models else c.model for c in claims.items),
        "Challenge": names(data.challenges[c.challenge].title for c in claims.items),
        "Verdict": [w for w in VERDICT_WORDS.values()],
    }
    parts = ['<form class="lb-filter" data-lb-filter="claims">']
    for label, col, match in _FILTER_COLUMNS:
        opts = "".join(f'<option value="{esc_html(o)}">{esc_html(o)}</option>' for o in options[label])
        parts.append(f'<label>{label} <select data-col="{col}" data-match="{match}">'
                     f'<option value="">all</option>{opts}</select></label>')
    parts.append('<output class="lb-filter-count" aria-live="polite"></output></form>')
    return ctx.raw("".join(parts))


def _pairs_table(ctx: Context, data: SiteData, claims: Claims, vs: dict[str, Verdict],
                 only: tuple[str, str] | None = None) -> str:
    rows = []
    for a, b in claims.pairs():
        if only and (a.model, a.challenge) != only and (b.model, b.challenge) != only:
            continue

        def side(c: Claim) -> str:
            who = f"{esc(data.models[c.model].name if c.model in data.models else c.model)} · " \
                  f"{esc(data.challenges[c.challenge].title)}"
            return f"**{who}**: {esc(c.claim, 300)} ({_source(ctx, data, c)})"

        rows.append([side(a), verdict_marker(ctx, vs[a.id]), side(b), verdict_marker(ctx, vs[b.id])])
    if not rows:
        return ""
    return table(["One passage says", "Verdict", "Another says", "Verdict"], rows)


def claims_page(data: SiteData, ctx: Context) -> str:
    """The Claims page: every claim of the study with its verdict, evidence and source, and a filter.

    Args:
        data: The site data.
        ctx: The page's context.

    Returns:
        The page's markdown.
    """
    claims = data.claims
    out = ["# Claims of the study, checked\n"]
    if claims is None or not claims.items:
        out.append(mark(ctx, "none", "no claims recorded yet: add them to data/claims.toml "
                                     "(see Contributing › Adding a claim)") + "\n")
        return "\n".join(out)
    vs = verdicts(data)
    n = counts(vs)
    checkable = len(claims.items) - n["not_checkable"]
    study = data.study
    src = f"[{esc(study.title)}]({study.source}) at commit {esc(study.commit)}" if study else "the study"
    out.append(
        f"The analysis documents of {src} make concrete statements about single solutions: that a kernel has a "
        "bug, that a model's tests pass, that a figure was measured. Each row below is one such statement, "
        "paraphrased in our words with a link to its line, and the evidence that decides it. The verdict is "
        "computed from llmbench's runs every time the site is built; nobody typed it.\n")
    out.append(table(["", ""], [
        ["Claims recorded", str(len(claims.items))],
        ["Checkable by running code", str(checkable)],
        ["Confirmed by the runs", str(n["confirmed"])],
        ["Contradicted by the runs", str(n["contradicted"])],
        ["Undecided (not run, no GPU, no adapter, no result)", str(n["undecided"])],
        ["Not checkable by running code (kept as recorded)", str(n["not_checkable"])],
    ]) + "\n")
    out.append("An *undecided* verdict is our gap, not the solution's fault: the solution has not been run here, "
               "needs a GPU or a dependency we do not install, has no adapter, or the run produced no value for "
               "the decider.\n")
    out.append("## All claims {#all-claims}\n")
    out.append(_filter_form(ctx, data, claims))
    out.append(table(HEADERS, [_row(ctx, data, c, vs[c.id]) for c in claims.items]) + "\n")
    pairs = _pairs_table(ctx, data, claims, vs)
    if pairs:
        out.append("## Passages that contradict each other {#contradictions}\n")
        out.append("The study's documents do not always agree. These pairs say opposite things about the same "
                   "solution; the verdicts show which side the runs support.\n")
        out.append(pairs + "\n")
    return "\n".join(out)


def solution_claims(data: SiteData, mid: str, cid: str, ctx: Context) -> str:
    """The claims section of a solution page.

    Args:
        data: The site data.
        mid: The model id.
        cid: The challenge id.
        ctx: The page's context.

    Returns:
        Markdown, or '' when the study made no claim about this solution.
    """
    claims = data.claims
    about = claims.about(mid, cid) if claims else []
    if not about:
        return ""
    vs = verdicts(data)
    rows = [[esc(c.claim, 300), esc(KINDS[c.kind]), _source(ctx, data, c), esc(c.decider.describe(), 160),
             verdict_marker(ctx, vs[c.id]), esc(vs[c.id].evidence, 240) or "–"] for c in about]
    body = [f"What the study's analysis documents say about this solution, and what the runs show "
            f"([all claims]({ctx.links.page('claims')})).",
            table(["Claim (our paraphrase)", "Kind", "Source", "Decided by", "Verdict", "Evidence"], rows)]
    pairs = _pairs_table(ctx, data, claims, vs, only=(mid, cid))
    if pairs:
        body += ["Passages of the study that contradict each other here:", pairs]
    return "## Claims of the study {#claims}\n\n" + "\n\n".join(body) + "\n"


def contradicted_claims(data: SiteData, ctx: Context, limit: int = 5, model: str | None = None,
                        challenge: str | None = None, state: str = "contradicted") -> str:
    """The strongest claims with one verdict (contradicted by default), for the home page.

    Args:
        data: The site data.
        ctx: The page's context.
        limit: How many to list.
        model: Only claims about this model.
        challenge: Only claims about this challenge.
        verdict: contradicted, confirmed, undecided or not_checkable.

    Returns:
        A list of claims with their verdicts and evidence, or a marker when there is none.
    """
    claims = data.claims
    if claims is None or not claims.items:
        return mark(ctx, "none", "no claims recorded (data/claims.toml)")
    vs = verdicts(data)
    chosen = [c for c in strongest(claims, vs, state,
                                   lambda m, ch: grade_points(data.grade(m, ch)))
              if (model is None or c.model == model) and (challenge is None or c.challenge == challenge)]
    word = VERDICT_WORDS[state]
    if not chosen:
        return mark(ctx, "none", f"no claim is {word} by the current results")
    rows = [[_solution(ctx, data, c, esc(c.claim, 300)), _model(ctx, c), challenge_link(ctx, c.challenge),
             _source(ctx, data, c), esc(vs[c.id].evidence, 240) or "–"] for c in chosen[:limit]]
    more = len(chosen) - len(rows)
    tail = f" ({more} more)" if more > 0 else ""
    phrase = {"contradicted": "that llmbench's runs contradict", "confirmed": "that llmbench's runs confirm",
              "undecided": "that llmbench's runs leave undecided", "not_checkable": "that running code cannot check"}
    caption = (f"Claims of the study's analyses {phrase[state]}, strongest first{tail}: "
               f"[all claims]({ctx.links.page('claims')}).")
    return "\n\n".join([caption, table(["Claim (our paraphrase)", "Model", "Challenge", "Source", "What the run showed"],
                                       rows)])
