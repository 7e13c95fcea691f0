"""The suite-validation directive: reference, mutant and cheat controls of one challenge, and flake rate."""
from __future__ import annotations

from ..cells import mark, phase_summary, status_marker
from ..context import Context
from ..markers import Directive
from ..text import esc, table
from .registry import directive


@directive("controls", args={"challenge": "challenge"}, required=("challenge",),
           help="suite validation: the reference, each trap's mutant and the cheat controls")
def controls(d: Directive, ctx: Context) -> str:
    """`controls`: suite validation: the reference, each trap's mutant, the cheats, and the flake rate.

    A `Renderer` (see `registry.Renderer` for its arguments and contract).
    """
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
    from ...cheats import GENERIC
    from ...validate import cheat_verdict

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
