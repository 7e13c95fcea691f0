"""The llmbench command line."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings

from .errors import ContentError, LlmbenchError
from .project import Project

MAX_WHY_LINES = 30  # a plan with more runs to do gets only the summary of why
VERDICT_STYLE = {"ok": "green", "failed": "red", "timeout": "yellow", "not_runnable": "magenta", "harness_error": "bold red",
                 "partial": "cyan", "compiled_not_run": "cyan", "needs_adapter": "cyan", "missing_dependency": "cyan"}


def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def cmd_run(args) -> int:
    """``llmbench run``: plan, then run what is stale, with progress; ``-k`` re-runs matching tests verbosely.

    Returns:
        The exit status.
    """
    from rich.markup import escape
    from rich.table import Table

    from .runner import make_plan, new_session, run_lock, run_plan
    from .sandbox import Sandbox

    project = Project.find()
    console = _console()
    sandbox = Sandbox(args.isolation)
    if sandbox.warning():
        console.print(f"[yellow]warning:[/] {sandbox.warning()}")
    if args.k:
        return cmd_rerun_k(args, project)
    session = new_session(args.jobs, server=getattr(args, "fork_server", None))
    with run_lock(project, on_wait=lambda: console.print("another llmbench run is in progress; waiting for it...")), \
            session.trusted:  # the fork server imports while the plan is made (killed unused when all is cached)
        if args.repeat < 1:
            raise LlmbenchError("--repeat takes a count of at least 1")
        plan = make_plan(project, args.model, args.challenge, controls=not args.no_controls, isolation=args.isolation,
                         force=args.force or args.repeat > 1)  # a repeat re-runs every result key
        if args.shard:
            from .shard import select_shard

            plan.jobs = select_shard(plan.jobs, args.shard)
        todo = plan.to_run
        cached = len(plan.jobs) - len(todo)
        from .runner import plan_reasons

        console.print(f"{len(plan.jobs)} runs planned: {len(todo)} to run, {cached} cached "
                      f"(isolation: {sandbox.isolation}, jobs: {args.jobs})"
                      + (f"; why: {plan_reasons(todo)}" if todo else ""), soft_wrap=True)
        if 0 < len(todo) <= MAX_WHY_LINES:
            for job in todo:
                console.print(f"  {job.label}: {job.explain()}", soft_wrap=True, markup=False)
        results = []
        from .progress import LiveProgress, PlainProgress

        tty = console.is_terminal
        display = LiveProgress(len(todo), console) if tty else PlainProgress(len(todo))

        def done(job, result):
            traps = result.traps.values()
            fell = sum(1 for t in traps if t.status == "fell_in")
            avoided = sum(1 for t in traps if t.status == "avoided")
            text = (f"{result.status} {job.label}  traps avoided {avoided}, fell in {fell}  "
                    f"({result.duration_s:.1f} s) {result.reason[:100]}")
            if tty:
                style = VERDICT_STYLE.get(result.status, "white")
                text = f"[{style}]{result.status:>13}[/] " + escape(text.split(" ", 1)[1])
            display.finished(job.label, text)
            results.append(result)

        if todo:
            with display:
                try:
                    run_plan(plan, project, args.jobs, args.isolation, on_done=done, repeat=args.repeat,
                             on_start=lambda job: display.started(job.label), session=session)
                except KeyboardInterrupt:
                    console.print("[yellow]interrupted[/]: finished results are kept; run again to resume")
                    return 130
    if results:
        rows = [(_result_label(r), r.status, _phase_cell(r.phases.get("own_tests")),
                 _phase_cell(r.phases.get("conformance")),
                 f"{sum(1 for t in r.traps.values() if t.status == 'avoided')}/{len(r.traps)}", f"{r.duration_s:.1f}s")
                for r in sorted(results, key=lambda r: (r.challenge, r.model, r.run_kind, r.mutant_trap or r.cheat or ""))]
        if tty:
            table = Table(title="Summary")
            for col in SUMMARY_COLUMNS:
                # full names: the run column never wraps or truncates, however narrow the terminal
                table.add_column(col, no_wrap=col == "run", min_width=max(len(r[0]) for r in rows) if col == "run" else None)
            for row in rows:
                table.add_row(escape(row[0]), f"[{VERDICT_STYLE.get(row[1], 'white')}]{row[1]}[/]", *map(escape, row[2:]))
            console.print(table)
        else:
            print(plain_table(SUMMARY_COLUMNS, rows), flush=True)
    if args.repeat > 1 and results:
        from .runner import is_flaky

        for cid in sorted({r.challenge for r in results}):
            mine = [r for r in results if r.challenge == cid]
            flaky = [r for r in mine if is_flaky(r)]
            console.print(f"{cid}: flake rate {len(flaky)}/{len(mine)} results changed verdict over {args.repeat} runs"
                          + "".join(f"\n  flaky: {_result_label(r)}: {' | '.join(r.repeat_verdicts)}" for r in flaky))
    errors = [r for r in results if r.status == "harness_error"]
    for r in errors:
        console.print(f"[bold red]harness error[/] {r.model}/{r.challenge}: {r.reason}")
    return 1 if errors else 0


def _result_label(r) -> str:
    if r.run_kind == "solution":
        return f"{r.model}/{r.challenge}"
    return f"{r.challenge}:{'reference' if r.run_kind == 'reference' else r.run_kind + ' ' + str(r.mutant_trap or r.cheat)}"


SUMMARY_COLUMNS = ("run", "status", "own tests", "conformance", "traps avoided", "time")


def plain_table(columns, rows) -> str:
    """A text table for logs: columns as wide as their widest cell, never cut to a terminal width."""
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in (columns, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "Summary\n" + "\n".join(lines)


def _phase_cell(phase) -> str:
    if phase is None:
        return "-"
    c = phase.counts
    if phase.status in ("not_run", "not_runnable", "needs_adapter", "missing_dependency", "compiled_not_run"):
        return f"{phase.status}"
    total = sum(v for k, v in c.items() if k != "asserts")
    return f"{c.get('passed', 0)} of {total} passed ({phase.status})"


def cmd_rerun_k(args, project) -> int:
    """Re-run selected conformance tests of one solution verbosely, printing their inputs."""
    from .challenge import load_challenges
    from .phases.conformance import conformance_command
    from .runner import REFERENCE
    from .solution import NO_ADAPTER, load_adapter

    if len(args.model) != 1 or len(args.challenge) != 1:
        raise LlmbenchError("-k needs exactly one --model and one --challenge (use --model _reference for the reference)")
    challenge = load_challenges(project.challenges_dir).get(args.challenge[0])
    if challenge is None:
        raise LlmbenchError(f"unknown challenge {args.challenge[0]}")
    model = args.model[0]
    if model == REFERENCE:
        folder, adapter = challenge.reference_dir, NO_ADAPTER
    else:
        folder = project.solutions_dir / model / challenge.id
        adapter = load_adapter(project.adapters_dir / model / challenge.id)
    if not folder.is_dir():
        raise LlmbenchError(f"{folder} does not exist")
    out = project.state_dir / "rerun.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = conformance_command(challenge, folder, adapter, out, args.isolation, k_expr=args.k, verbose=True)
    rc = subprocess.run(argv, cwd=challenge.path).returncode
    if out.exists():
        for rec in json.loads(out.read_text())["records"]:
            print(f"\n{rec['name']}: {rec['outcome']}" + (f" [trap {rec['trap']}]" if rec.get("trap") else ""))
            if rec.get("inputs"):
                print(f"  inputs: {rec['inputs']}")
            if rec.get("message"):
                print("  " + rec["message"].replace("\n", "\n  "))
    return 0 if rc in (0, 1, 5) else rc


def cmd_validate(args) -> int:
    """``llmbench validate``: run stale controls, then check each challenge's suite against them.

    Returns:
        0 when every suite passes its reference and catches its mutants and cheats, else 1.
    """
    from .challenge import load_challenges
    from .runner import make_plan, run_lock, run_plan
    from .store import ResultStore
    from .validate import validate_challenge

    project = Project.find()
    with run_lock(project, on_wait=lambda: print("another llmbench run is in progress; waiting for it...")):
        plan = make_plan(project, (), args.challenge, controls=True, solutions=False, isolation=args.isolation,
                         force=args.force)
        if plan.to_run:
            print(f"running {len(plan.to_run)} stale controls ...", flush=True)
            run_plan(plan, project, args.jobs, args.isolation,
                     on_done=lambda job, r: print(f"  {job.label}: {r.status} {r.reason[:120]}", flush=True))
    challenges = load_challenges(project.challenges_dir)
    controls = ResultStore(project.results_dir).controls()
    ok = True
    for cid in args.challenge or list(challenges):
        v = validate_challenge(challenges[cid], controls.get(cid, {}))
        print(v.line())
        ok = ok and v.ok
    return 0 if ok else 1


def cmd_status(args) -> int:
    """``llmbench status``: each planned run as cached, stale (and why), missing; result files no plan names
    as orphaned. ``--keys`` prints the result keys instead (for CI caches).
    """
    from .runner import make_plan
    from .store import ResultStore

    project = Project.find()
    plan = make_plan(project, isolation=args.isolation)
    if args.shard:
        from .shard import select_shard

        plan.jobs = select_shard(plan.jobs, args.shard)
    if args.keys:  # for CI caches: one key per planned run
        for job in sorted(plan.jobs, key=lambda j: j.key):
            print(job.key)
        return 0
    store = ResultStore(project.results_dir)
    expected = {store.path_for(j.model, j.challenge.id, j.run_kind, j.trap): j for j in plan.jobs}
    rows = []
    for path, job in sorted(expected.items(), key=lambda kv: kv[1].label):
        state = "cached" if job.cached else ("stale" if path.exists() else "missing")
        rows.append((state, job.label + (f"  ({job.explain()})" if state == "stale" else "")))
    for path in store.all_paths():
        if path not in expected:
            rows.append(("orphaned", str(path.relative_to(project.root))))
    counts = {}
    for state, label in rows:
        counts[state] = counts.get(state, 0) + 1
        if state != "cached" or args.verbose:
            print(f"{state:>9}  {label}")
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing planned")
    return 0


def cmd_schema(args) -> int:
    """``llmbench schema``: print the results' JSON Schema."""
    from .schema import json_schema

    print(json.dumps(json_schema(), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``llmbench`` command line: every command with its options."""
    ap = argparse.ArgumentParser(prog="llmbench", description="Run LLM benchmark solutions and publish the results.")
    sub = ap.add_subparsers(dest="command", required=True)
    iso = {"default": os.environ.get("LLMBENCH_ISOLATION", "auto"), "choices": ("auto", "bwrap", "fallback"),
           "help": "sandbox: bubblewrap when available (auto), or force a mode"}

    p = sub.add_parser("run", help="run solutions and controls (cached by content hash)")
    p.add_argument("--model", action="append", default=[], help="only this model (repeatable)")
    p.add_argument("--challenge", action="append", default=[], help="only this challenge (repeatable)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs (default: cores)")
    p.add_argument("--force", action="store_true", help="re-run even when cached")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every result key N times (implies --force) and report results whose verdict changed")
    p.add_argument("-k", help="re-run the conformance tests matching EXPR of one solution, verbosely")
    p.add_argument("--no-controls", action="store_true", help="skip references and mutants")
    p.add_argument("--shard", help="I/N: run only shard I of N (deterministic from result keys)")
    p.add_argument("--isolation", **iso)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check that each reference passes and each mutant is caught")
    p.add_argument("challenge", nargs="*")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--force", action="store_true")
    p.add_argument("--isolation", **iso)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("status", help="what is cached, stale, missing or orphaned")
    p.add_argument("--isolation", **iso)
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--keys", action="store_true", help="print the result key of every planned run")
    p.add_argument("--shard", help="I/N: only runs of this shard")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("schema", help="print the JSON Schema of result files")
    p.set_defaults(func=cmd_schema)

    for extra in _extra_commands():
        extra(sub, iso)
    return ap


# Modules that add their own subcommands with register(subparsers, isolation_options). Imported
# unconditionally: a command module that fails to import is a bug to see, never a command to drop.
COMMAND_MODULES = ("llmbench.site.cli", "llmbench.content_cli", "llmbench.shard")


def _extra_commands():
    """The register functions of the command modules (site, import, scaffolding, merge)."""
    import importlib

    return [importlib.import_module(name).register for name in COMMAND_MODULES]


def main(argv: list[str] | None = None) -> int:
    """The ``llmbench`` entry point.

    Returns:
        The exit status: 2 for a content or usage error (printed as one line), 130 when interrupted.
    """
    early = _early_fork_server(sys.argv[1:] if argv is None else list(argv))
    try:
        args = build_parser().parse_args(argv)
        args.fork_server = early
        warnings.simplefilter("default")
        warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
        return int(args.func(args) or 0)
    except ContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LlmbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if early is not None:
            early.close()  # a no-op once the run's session has closed it; else it was never used


def _early_fork_server(argv: list[str]):
    """`llmbench run` starts its fork server first: its imports (~1 s) then overlap ours and the plan."""
    # Not for `run -k` (one verbose plain run), nor for help (-kEXPR and --he are argparse's forms too).
    if argv[:1] != ["run"] or any(a.startswith(("-k", "-h", "--he")) for a in argv):
        return None
    from .phases.forkserver import start_early

    return start_early()


if __name__ == "__main__":
    sys.exit(main())
