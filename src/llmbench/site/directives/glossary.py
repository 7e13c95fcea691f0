"""Directives explaining the status vocabulary: the glossary of statuses and the glyph legend."""
from __future__ import annotations

from ...vocabulary import FLAG, FLAG_MEANING, KINDS, TERMS
from ..cells import legend, mark
from ..context import Context
from ..markers import Directive
from ..text import esc, table
from .registry import directive


@directive("legend", args={"kinds": "|".join(KINDS)}, help="a legend of the status glyphs")
def legend_directive(d: Directive, ctx: Context) -> str:
    """`legend`: a one-line legend of the status glyphs, linking to the Statuses page.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    kinds = d.items("kinds") or tuple(KINDS)
    return legend(ctx, "".join(KINDS[k].glyph for k in kinds) + FLAG)


@directive("statuses", help="the status vocabulary: every glyph, word and colour, and whose doing")
def statuses(d: Directive, ctx: Context) -> str:
    """`statuses`: the glossary: every kind (glyph, colour, meaning) and every word a reader can meet.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
    rows = []
    for k in KINDS.values():
        words = [t for t in TERMS.values() if t.kind == k.id]
        fault = {True: "the solution", False: "ours (harness or machine)", None: "–"}
        rows.append([mark(ctx, k.id, f"**{esc(k.label)}**"), esc(k.meaning), ""])
        for t in words:
            rows.append([f"&nbsp;&nbsp;{mark(ctx, k.id, esc(t.word))}", esc(t.meaning), fault[t.fault]])
    rows.append([f'<span class="lb-flag">{FLAG} flag</span>' if ctx.html else FLAG, esc(FLAG_MEANING), "–"])
    return table(["Glyph and word", "Meaning", "Whose doing"], rows)
