"""The determinism directive: runs whose entry points gave different outputs for the same inputs."""
from __future__ import annotations

from ..cells import mark, model_link
from ..context import Context
from ..markers import Directive
from ..text import esc, table
from .registry import directive


@directive("determinism", args={"challenge": "challenge"}, required=("challenge",),
           help="determinism probes: runs whose deterministic entry points answered the same inputs differently")
def determinism(d: Directive, ctx: Context) -> str:
    """`determinism`: the determinism findings of one challenge's solutions and controls.

    An entry point declared `deterministic = true` in challenge.toml is called twice with the
    same inputs on its first call of each conformance test; a different answer is recorded on
    the test (`TestRecord.scale["nondeterministic"]`). It is a finding, never a trap: no prompt
    of the study requires determinism. A `Renderer` (see `registry.Renderer`).
    """
    data = ctx.data
    cid = d.text("challenge")
    spec = data.challenges[cid].spec
    if spec is None:
        return mark(ctx, "none", f"no challenge suite for {esc(cid)} in this repository")
    declared = [e.name for e in spec.entry_points if e.deterministic]
    if not declared:
        return "Determinism: no entry point of this challenge is declared deterministic, so none is probed."
    runs = [(model_link(ctx, m), r) for (m, c), r in sorted(data.results.items()) if c == cid]
    runs += [(esc(name), r) for name, r in sorted(data.controls.get(cid, {}).items())]
    probed, rows = 0, []
    for label, r in runs:
        phase = r.phases.get("conformance")
        tests = [t for t in (phase.tests if phase else []) if t.scale.get("determinism_probes", 0) > 0]
        if not tests:
            continue
        probed += 1
        for t in tests:
            n = int(t.scale.get("nondeterministic", 0))
            if n:
                rows.append([label, _code(t.name[:80]),
                             mark(ctx, "warn", f"{n} entry point(s) answered the same inputs differently")])
    entries = ", ".join(_code(e) for e in declared)
    if not probed:
        return (f"Determinism: {entries} would be called twice with the same inputs in every conformance "
                f"test; {mark(ctx, 'none', f'no probed run yet (run llmbench run or llmbench validate {esc(cid)})')}")
    flagged = len({label for label, *_ in rows})
    head = (f"Determinism: {entries} called twice with the same inputs on the first call of each conformance "
            f"test (a finding, never a trap: the study's prompt does not require it). "
            f"{probed - flagged} of {probed} probed runs answered identically every time.")
    return head if not rows else "\n\n".join([head, table(["Run", "Test", "Finding"], rows)])


def _code(name: str) -> str:
    """An identifier as a code span (markdown escapes are not undone inside one)."""
    return "`" + name.replace("`", "'").replace("|", "/") + "`"
