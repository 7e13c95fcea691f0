"""Phase conformance: our adversarial suite, run by a trusted pytest subprocess.

The subprocess runs our tests; the solution runs only in the sandboxed worker that the
plugin starts. Verdicts (traps, metrics) are computed here from the plain records.
"""
from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..challenge import Challenge
from ..errors import ContentError
from ..schema import Metric, PhaseResult, TestRecord, TrapVerdict
from ..solution import Adapter

ACTIVE: set[subprocess.Popen] = set()  # killed on Ctrl-C by the runner
# Installed plugins we never need here; hypothesis' would have pytest rewrite the asserts of
# its whole package on every run (seconds per solution).
QUIET_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:randomly", "-p", "no:metadata")
# A ContentError raised in the trusted pytest while collecting (pytest prints it as INTERNALERROR).
CONTENT_ERROR = re.compile(r"^INTERNALERROR> llmbench\.errors\.ContentError: (.+)$", re.M)
STOP_GRACE_S = 5.0
COLLECT_ERROR = re.compile(r"^_+ ERROR collecting (\S+) _+$", re.M)


def stop(procs) -> None:
    """Stop trusted pytest runs: SIGINT first, so that pytest tears its fixtures down (the
    sandboxed worker, everything it started and its copy go with them: in the fallback a
    daemon of the leased uid outlives a SIGKILLed parent), SIGKILL whatever is left after
    a grace period."""
    procs = list(procs)
    for proc in procs:
        _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def check_trap_marks(challenge: Challenge) -> None:
    """Fail early, naming file and line, on `pytest.mark.trap("...")` with an id that
    challenge.toml does not declare (a typo would otherwise leave the trap untested)."""
    known = set(challenge.trap_ids)
    for path in sorted(challenge.conformance_dir.rglob("*.py")) if challenge.conformance_dir.is_dir() else []:
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue  # pytest reports it when collecting
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "trap"
                    and isinstance(node.func.value, (ast.Attribute, ast.Name))
                    and getattr(node.func.value, "attr", getattr(node.func.value, "id", "")) == "mark"
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value not in known):
                raise ContentError(path, f"marks unknown trap '{node.args[0].value}'; traps in challenge.toml: "
                                         f"{', '.join(challenge.trap_ids) or 'none'}", line=node.lineno)


def conformance_command(challenge: Challenge, solution: Path, adapter: Adapter, out: Path, isolation: str,
                        only_trap: str | None = None, k_expr: str | None = None, verbose: bool = False,
                        maxfail: int | None = None) -> list[str]:
    argv = [sys.executable, "-m", "pytest", str(challenge.conformance_dir), "-p", "llmbench.conformance.plugin",
            "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(challenge.path),
            "--llmbench-solution", str(solution), "--llmbench-out", str(out), "--llmbench-isolation", isolation,
            "-q" if not verbose else "-v", "--tb=short" if verbose else "--tb=line", *QUIET_PLUGINS]
    if adapter.path is not None:
        argv += ["--llmbench-adapter", str(adapter.path)]
    for entry, target in adapter.mapping.items():
        argv.append(f"--llmbench-map={entry}={target}")  # one token: never read as an option
    if only_trap:
        argv += ["--llmbench-only-trap", only_trap]
    if k_expr:
        argv += ["-k", k_expr]
    if maxfail:
        argv += [f"--maxfail={maxfail}"]
    return argv


def run_conformance(challenge: Challenge, solution: Path, adapter: Adapter, isolation: str,
                    only_trap: str | None = None, timeout_s: float | None = None, limits: dict | None = None,
                    maxfail: int | None = None):
    """-> (PhaseResult, traps, metrics)."""
    start = time.monotonic()
    limits = limits or challenge.limits
    timeout_s = timeout_s or float(limits["conformance_timeout_s"])
    with tempfile.TemporaryDirectory(prefix="llmbench-conf-") as tmp:
        out = Path(tmp) / "records.json"
        argv = conformance_command(challenge, solution, adapter, out, isolation, only_trap, maxfail=maxfail)
        argv += ["--llmbench-call-timeout", str(limits["call_timeout_s"]),
                 "--llmbench-memory-mb", str(int(limits["memory_mb"]))]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=challenge.path, env=dict(os.environ))
        ACTIVE.add(proc)
        timed_out = False
        try:
            log, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop([proc])
            log, _ = proc.communicate()
        finally:
            ACTIVE.discard(proc)
        full_log = log.decode("utf-8", "replace")
        log_text = full_log[-8000:]
        records, exitstatus = None, None
        if out.exists() and not timed_out:  # a stopped run's partial records are not a verdict
            try:
                payload = json.loads(out.read_text())
                records, exitstatus = payload["records"], payload.get("exitstatus")
            except (ValueError, KeyError, TypeError):
                records = None
    duration = round(time.monotonic() - start, 3)
    broke = ""
    if exitstatus in (3, 4):  # pytest INTERNALERROR / usage error: the suite broke, whatever the records say
        content = CONTENT_ERROR.search(full_log)
        if content:  # e.g. a test marking an unknown trap: the contributor must fix it (exit 2)
            path, _, message = content.group(1).partition(": ")
            raise ContentError(path, message or content.group(1))
        broke = next((line for line in reversed(full_log.splitlines()) if line.startswith("INTERNALERROR>")), "")
        records = None
    collect = COLLECT_ERROR.search(full_log) if exitstatus == 2 and not records else None
    if collect:  # a suite file that does not import or collect is the suite's mistake, never a verdict
        detail = next((line[1:].strip() for line in full_log[collect.end():].splitlines() if line.startswith("E ")), "")
        raise ContentError(challenge.path / collect.group(1), f"the conformance suite does not collect: {detail}")
    if records is None:
        if timed_out:
            phase = PhaseResult(name="conformance", status="timeout", reason=f"conformance timed out after {timeout_s:g} s",
                                duration_s=duration, log_tail=log_text)
        else:
            phase = PhaseResult(name="conformance", status="harness_error",
                                reason=f"conformance run ended without records (exit {proc.returncode})"
                                + (f": {broke[:300]}" if broke else ""), duration_s=duration, log_tail=log_text)
        reason = phase.reason
        traps = {t.id: TrapVerdict(status="not_run", reason=reason) for t in challenge.traps}
        return phase, traps, {}
    tests = [TestRecord(**{k: v for k, v in r.items() if k in TestRecord.model_fields}) for r in records]
    kinds = {r["name"]: r.get("failure_kind", "") for r in records}
    # Only tests of rules the study's prompt gave decide status and traps; "beyond" tests are
    # kept in the record, counted apart and shown as their own column.
    deciding = [t for t in tests if t.decides]
    phase = summarise(challenge, deciding, kinds, timed_out, timeout_s, duration, log_text)
    phase.tests = tests
    phase.beyond_counts = beyond_counts(tests)
    traps = trap_verdicts(challenge, deciding, kinds, only_trap)
    metrics = collect_metrics(challenge, tests)
    return phase, traps, metrics


def beyond_counts(tests: list[TestRecord]) -> dict[str, int]:
    """Outcome -> count over the tests stricter than the study's prompt."""
    out: dict[str, int] = {}
    for t in tests:
        if not t.decides:
            out[t.outcome] = out.get(t.outcome, 0) + 1
    return out


def summarise(challenge, tests, kinds, timed_out, timeout_s, duration, log_text) -> PhaseResult:
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.outcome] = counts.get(t.outcome, 0) + 1
    missing_dep = next((t.message for t in tests if kinds.get(t.name) == "missing_dependency"), None)
    entry_missing = next((t.message for t in tests if kinds.get(t.name) == "entry_missing"), None)
    bad = [t for t in tests if t.outcome in ("failed", "error", "timeout")]
    content = next((t for t in tests if kinds.get(t.name) == "content"), None)
    if content is not None:
        status, reason = "harness_error", f"suite error in {content.name}: {content.message[:400]}"
    elif timed_out:
        status, reason = "timeout", f"conformance timed out after {timeout_s:g} s"
    elif missing_dep:
        status, reason = "not_runnable", missing_dep.split(": ", 1)[-1] if "missing dependency" in missing_dep else missing_dep
        if not reason.startswith("missing dependency"):
            reason = f"missing dependency {reason}"
    elif entry_missing:
        status, reason = "failed", entry_missing
    elif bad:
        status = "failed"
        reason = f"{len(bad)} of {len(tests)} conformance tests did not pass; first: {bad[0].name}: {bad[0].message[:300]}"
    elif not counts.get("passed"):
        status, reason = "not_run", "no conformance test could run here" + (
            f" ({tests[0].message})" if tests and tests[0].message else "")
    else:
        status, reason = "ok", ""
    return PhaseResult(name="conformance", status=status, reason=reason, counts=counts, tests=tests,
                       duration_s=duration, log_tail=log_text)


def trap_verdicts(challenge: Challenge, tests: list[TestRecord], kinds: dict[str, str],
                  only_trap: str | None = None) -> dict[str, TrapVerdict]:
    out = {}
    for trap in challenge.traps:
        mine = [t for t in tests if t.trap == trap.id]
        names = [t.name for t in mine]
        if only_trap and trap.id != only_trap:
            out[trap.id] = TrapVerdict(status="not_run", reason=f"control run for trap {only_trap} only")
            continue
        if not mine:
            out[trap.id] = TrapVerdict(status="not_run", reason="no test for this trap ran", tests=names)
            continue
        unchecked = [t for t in mine if kinds.get(t.name) in ("entry_missing", "missing_dependency", "content")]
        fell = [t for t in mine if t.outcome in ("failed", "timeout")
                or (t.outcome == "error" and kinds.get(t.name) not in ("entry_missing", "missing_dependency", "content"))]
        passed = [t for t in mine if t.outcome == "passed"]
        if fell:
            out[trap.id] = TrapVerdict(status="fell_in", reason=f"{fell[0].name}: {fell[0].message[:500]}", tests=names)
        elif unchecked:
            out[trap.id] = TrapVerdict(status="not_run", reason=unchecked[0].message[:500], tests=names)
        elif passed:
            skipped = [t for t in mine if t.outcome != "passed"]
            note = f"{len(skipped)} of {len(mine)} tests skipped: {skipped[0].message[:200]}" if skipped else ""
            out[trap.id] = TrapVerdict(status="avoided", reason=note, tests=names)
        else:
            out[trap.id] = TrapVerdict(status="not_run", reason=(mine[0].message or "skipped")[:500], tests=names)
    return out


def collect_metrics(challenge: Challenge, tests: list[TestRecord]) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for t in tests:
        for name, value in t.metrics.items():
            spec = challenge.metric(name)
            if name not in out and spec is not None:
                out[name] = Metric(value=value, unit=spec.unit, better=spec.better, test=t.name)
    return out
