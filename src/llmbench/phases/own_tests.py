"""Phase own_tests: the solution's own tests, run in the sandbox (self-reported evidence).

Discovery, in order: pytest files (test_*.py, *_test.py) and other modules defining
test_* functions, run by pytest with pytest-json-report; otherwise scripts with an
``if __name__ == "__main__":`` block, each one test (exit 0 in time = pass).
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from ..sandbox import Limits, Sandbox, make_copy, remove_copy
from ..schema import PhaseResult, TestRecord
from .discovery import analysable_files, analyse, discover  # noqa: F401 - part of this module's API

REPORT = ".llmbench-own-tests.json"
# The only plugins a model's own tests get: the report we read and the per-test timeout. Loading
# every installed plugin (anyio, platformdirs, xdist's looponfail ...) took ~0.45 s of each run.
OWN_TEST_PLUGINS = ("-p", "pytest_metadata.plugin", "-p", "pytest_jsonreport.plugin", "-p", "pytest_timeout")
MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
# pytest-timeout's message when a test hits its limit: "Failed: Timeout (>10.0s) from
# pytest-timeout." (2.x), "Failed: Timeout >10.0s" (1.x).
TIMEOUT_MARK = re.compile(r"^(Failed: )?Timeout \(?>\d+(\.\d+)?s", re.M)
def _counts(tests: list[TestRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.outcome] = counts.get(t.outcome, 0) + 1
    counts["asserts"] = sum(t.asserts or 0 for t in tests)
    return counts


def run_own_tests(solution: Path, sandbox: Sandbox, timeout_s: float, memory_mb: int | None = 4096) -> PhaseResult:
    """Run the solution's own tests (pytest files, else ``__main__`` scripts) in the sandbox on a copy.

    Tests are found statically (`llmbench.asserts`); nothing of the solution is imported here.

    Args:
        solution: The solution folder.
        sandbox: Where the tests run.
        timeout_s: Time limit of the whole phase.
        memory_mb: Memory limit of each process; None for none.

    Returns:
        The ``own_tests`` phase: ``not_run`` when no test was found or none ran; ``missing_dependency`` when
        tests failed only on a package we do not install; ``timeout`` when the phase or every
        failing test ran out of time; else ``ok`` or ``failed`` with each test's record.
    """
    start = time.monotonic()
    targets, scripts, asserts, missing, gave_up = analyse(solution)
    details = {"style": "pytest" if targets else ("scripts" if scripts else "none"), "missing_dependencies": missing}
    if gave_up:
        return PhaseResult(name="own_tests", status="not_run", reason=f"own tests not discovered: {gave_up}",
                           details=details, duration_s=round(time.monotonic() - start, 3))
    if not targets and not scripts:
        return PhaseResult(name="own_tests", status="not_run", reason="no own tests found", details=details,
                           duration_s=round(time.monotonic() - start, 3))
    copy = make_copy(solution)
    try:
        if targets:
            tests, log, phase_timeout = _run_pytest(copy, targets, asserts, sandbox, timeout_s, memory_mb)
        else:
            tests, log, phase_timeout = _run_scripts(copy, scripts, asserts, sandbox, timeout_s, memory_mb)
    finally:
        remove_copy(copy)
    counts = _counts(tests)
    status, reason = "ok", ""
    missing_hit = sorted({m.group(1).split(".")[0] for t in tests for m in MISSING_MODULE.finditer(t.message)
                          if m.group(1).split(".")[0] not in {p.stem for p in solution.rglob("*.py")}})
    bad = [t for t in tests if t.outcome in ("failed", "error", "timeout")]
    hung = [t for t in bad if t.outcome == "timeout"]
    if missing_hit and not counts.get("passed"):
        status, reason = "missing_dependency", f"missing dependency {', '.join(missing_hit)}"
    elif phase_timeout:
        status, reason = "timeout", f"own tests timed out after {timeout_s:g} s"
    elif bad and len(hung) == len(bad):
        # Every test that did not pass ran into its time limit: a hang, not a wrong answer.
        status, reason = "timeout", f"{len(hung)} of {len(tests)} own tests timed out; first: {hung[0].name}"
    elif bad:
        status = "failed"
        reason = f"{len(bad)} of {len(tests)} own tests did not pass"
        if hung:
            reason += f" ({len(hung)} timed out)"
    elif not counts.get("passed"):
        status, reason = "not_run", "no own test ran"
    if status == "ok" and counts["asserts"] == 0:
        reason = "tests pass but assert nothing"
    return PhaseResult(name="own_tests", status=status, reason=reason, counts=counts, tests=tests,
                       duration_s=round(time.monotonic() - start, 3), log_tail=_log_tail(log), details=details)


def _run_pytest(copy: Path, targets: list[Path], asserts: dict[str, int], sandbox: Sandbox, timeout_s: float,
                memory_mb: int | None):
    per_test = max(10, int(timeout_s / 2))
    argv = [sys.executable, "-m", "pytest", *[t.as_posix() for t in targets], "-q", "-p", "no:cacheprovider",
            *OWN_TEST_PLUGINS, "--rootdir", str(copy), "-o", "addopts=", "--json-report",
            f"--json-report-file={copy / REPORT}", "--json-report-omit", "log", "keywords", "streams", "warnings",
            f"--timeout={per_test}"]
    outcome = sandbox.run(argv, workdir=copy, limits=Limits(wall_s=timeout_s, memory_mb=memory_mb), python=True,
                          env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    log = outcome.stdout + ("\n" + outcome.stderr if outcome.stderr.strip() else "")
    report_path = copy / REPORT
    tests: list[TestRecord] = []
    try:
        report = json.loads(report_path.read_text()) if report_path.is_file() and not report_path.is_symlink() else None
    except (ValueError, OSError, UnicodeDecodeError):
        report = None
    if report is None or not isinstance(report, dict):
        # Say both: no report (so no per-test outcome), and how the process ended.
        reason = "pytest wrote no report" + (f" ({outcome.reason})" if outcome.reason else "")
        for key, n in asserts.items():
            tests.append(TestRecord(name=key, outcome="timeout" if outcome.timed_out else "not_run", message=reason, asserts=n))
        return tests, log, outcome.timed_out
    for col in report.get("collectors", []) or []:
        if isinstance(col, dict) and col.get("outcome") == "failed":
            tests.append(TestRecord(name=str(col.get("nodeid", "?")) or "collection", outcome="error",
                                    message=_short(str(col.get("longrepr", "collection failed")))))
    for t in report.get("tests", []) or []:
        if not isinstance(t, dict):
            continue
        nodeid = str(t.get("nodeid", "?"))
        raw = str(t.get("outcome", "error"))
        phase = next((t.get(w) for w in ("call", "setup", "teardown") if isinstance(t.get(w), dict)
                      and t[w].get("outcome") not in (None, "passed")), None) or t.get("call") or {}
        message = ""
        if isinstance(phase, dict):
            crash = phase.get("crash") if isinstance(phase.get("crash"), dict) else {}
            message = str(crash.get("message") or phase.get("longrepr") or "")
        # xfailed: the test failed as its author expected; that is not a pass (issue 13).
        outcome_name = {"passed": "passed", "failed": "failed", "skipped": "skipped", "error": "error",
                        "xfailed": "skipped", "xpassed": "failed"}.get(raw, "error")
        if raw == "xfailed":
            message = "expected to fail (xfail): " + message
        if outcome_name in ("failed", "error") and TIMEOUT_MARK.search(message):
            outcome_name = "timeout"
        duration = sum(float(t[w].get("duration", 0)) for w in ("setup", "call", "teardown") if isinstance(t.get(w), dict))
        base = nodeid.split("[", 1)[0]
        tests.append(TestRecord(name=nodeid, outcome=outcome_name, duration_s=round(duration, 4),
                                message=_short(message), asserts=asserts.get(base)))
    return tests, log, outcome.timed_out


def _run_scripts(copy: Path, scripts: list[Path], asserts: dict[str, int], sandbox: Sandbox, timeout_s: float,
                 memory_mb: int | None):
    tests, logs = [], []
    per_script = max(5.0, timeout_s / max(1, len(scripts)))
    phase_timeout = False
    for rel in scripts:
        outcome = sandbox.run([sys.executable, rel.as_posix()], workdir=copy,
                              limits=Limits(wall_s=per_script, memory_mb=memory_mb), python=True)
        if outcome.timed_out:
            name, msg = "timeout", outcome.reason
        elif outcome.returncode == 0:
            name, msg = "passed", ""
        else:
            name, msg = "failed", outcome.reason + ": " + outcome.stderr.strip()[-1500:]
        tests.append(TestRecord(name=rel.as_posix(), outcome=name, duration_s=round(outcome.duration_s, 3),
                                message=_short(msg), asserts=asserts.get(rel.as_posix())))
        logs.append(f"$ python {rel}\n{outcome.stdout}{outcome.stderr}")
    return tests, "\n".join(logs), phase_timeout


NOT_KEPT = re.compile(r"\[\.\.\. (\d{1,15}) earlier bytes not kept \.\.\.\]")


def _log_tail(log: str, limit: int = 8000) -> str:
    """The end of the log, saying how much output was dropped before it (the sandbox
    keeps the last 64 KB of each stream; a flood must still show in the result)."""
    if len(log) <= limit:
        return log
    # A solution can print look-alikes of the sandbox's marker: the pattern takes at most 15
    # digits, so no printed number can make this parse fail or grow without bound.
    dropped = sum(int(n) for n in NOT_KEPT.findall(log)) + len(log) - limit
    return f"[... {dropped} earlier bytes of output not kept ...]\n" + log[-limit:]


def _short(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 20] + " ... [truncated]"
