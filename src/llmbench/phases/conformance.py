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
import threading
import time
import warnings
from pathlib import Path

from ..challenge import Challenge
from ..errors import ContentError
from ..failures import conformance_status, finite_metrics, trap_verdicts as judge_traps
from ..schema import Metric, PhaseResult, TestRecord, TrapVerdict
from ..solution import Adapter
from .forkserver import READY_TIMEOUT_S, ForkServer, ForkServerError, switched_on, trusted_env

# Installed plugins we never need here; hypothesis' would have pytest rewrite the asserts of
# its whole package on every run (seconds per solution). pytest's own unraisableexception
# plugin garbage-collects the whole process at exit (~40 ms a run) to report exceptions
# raised in trusted finalizers, which never decide anything here.
QUIET_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:randomly", "-p", "no:metadata",
                 "-p", "no:unraisableexception")
# A ContentError raised in the trusted pytest while collecting (pytest prints it as INTERNALERROR).
CONTENT_ERROR = re.compile(r"^INTERNALERROR> llmbench\.errors\.ContentError: (.+)$", re.M)
STOP_GRACE_S = 5.0
COLLECT_ERROR = re.compile(r"^_+ ERROR collecting (\S+) _+$", re.M)
# Metrics a suite can only measure inside the solution's process (tracemalloc): labelled
# self-reported in results, never used by a trap verdict.
SELF_REPORTED = frozenset({"self_reported_peak_mb", "self_reported_largest_step_mb"})


def trusted_address_space(kind, worker_mb: int) -> int | None:
    """Address-space cap (bytes) of the trusted pytest: whatever a worker sends, decoding it
    cannot take the machine (its worker's own cap is lower and inherited). None for a kind
    whose workers cannot be capped (a GPU driver reserves huge virtual ranges)."""
    if not kind.caps_worker_memory:
        return None
    return max(8 * 1024, 3 * worker_mb) * 1024**2


def _cap_address_space(cap: int) -> None:
    from .forkserver import _cap_address_space as cap_it

    cap_it(cap)


class TrustedRuns:
    """The trusted pytest runs of one `llmbench run`, owned by it (`runner.RunSession`).

    Used as a context manager around a run plan, it starts one pre-imported fork server
    (`llmbench.phases.forkserver`) ahead of the first conformance phase, so that each run is
    forked from it instead of importing pytest and NumPy afresh; every run still is its own
    process, session and worker. A challenge's runs fork from its suite server, which has
    collected the suite once (`llmbench.conformance.suiteserver`); where it cannot (the suite
    does not collect, or a kind that uses a device) they start from the fork server. It tracks
    the live runs so that an abort stops them all. Outside the context (or with
    LLMBENCH_NO_FORKSERVER=1) runs start as plain processes; LLMBENCH_NO_SUITE_SERVER=1 turns
    off the suite servers alone.
    """

    def __init__(self, server: ForkServer | None = None):
        self.server: ForkServer | None = None
        self._early = server  # started by the CLI before it parsed its arguments (`forkserver.start_early`)
        self._live: set = set()
        self._lock = threading.Lock()
        self._depth = 0  # entered by `llmbench run` before planning, and again by run_plan
        self._stopped = False
        self._suites: dict[str, object] = {}  # challenge folder -> its SuiteServer, or None (runs start plainly)
        self._suite_lock = threading.Lock()
        self._logs: tempfile.TemporaryDirectory | None = None
        self._warned = False

    def __enter__(self) -> "TrustedRuns":
        self._depth += 1
        if self._depth > 1:
            return self
        early, self._early = self._early, None
        if early is not None and early.alive and early.env == trusted_env():
            self.server = early
        elif switched_on("LLMBENCH_NO_FORKSERVER"):
            if early is not None:
                early.close()
            try:
                self.server = ForkServer(trusted_env())
            except OSError:
                self.server = None  # runs start as plain processes
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        server, self.server = self.server, None
        if server is not None:
            server.close()  # its suite servers end with it
        with self._suite_lock:
            self._suites.clear()
            if self._logs is not None:
                self._logs.cleanup()
                self._logs = None

    def launch_suite(self, challenge: Challenge, options: dict, log: Path, cap: int | None):
        """Start a trusted run of `challenge`'s suite with one run's options (`run_options`).

        Returns:
            A Popen-like object leading its own process group: forked from the challenge's
            suite server when it serves, else started as `launch` starts a run.
        """
        argv = suite_command(challenge) + run_options_argv(options)
        server, suite = self.server, self._suite_server(challenge)
        if server is not None and suite is not None:
            title = " ".join(argv)  # what `ps` shows: the command line a plain run would have
            try:
                proc = server.start_via(suite, options, log, cap, title)
            except ForkServerError as exc:  # the suite server or the fork server went away meanwhile
                self._fell_back(f"the suite server of {challenge.id} stopped serving ({exc})")
                with self._suite_lock:
                    self._suites[str(challenge.path)] = None
            else:
                return self._track(proc)
        return self.launch(argv, challenge.path, log, cap)

    def prepare(self, challenges) -> None:
        """Start the suite servers of these challenges now, in the background: their
        collection then overlaps the runs that start first."""
        wanted = [c for c in challenges if self._serves(c)]
        if wanted:
            threading.Thread(target=lambda: [self._start_suite_server(c) for c in wanted],
                             name="llmbench-suite-servers", daemon=True).start()

    def ready(self, challenge: Challenge) -> None:
        """Wait until the challenge's runs can start: its suite server serves, or it cannot and
        they start plainly (then there is nothing to wait for)."""
        self._suite_server(challenge)

    def _serves(self, challenge: Challenge) -> bool:
        # A device's runs keep the plain path (their timings, their driver state).
        server = self.server
        return (server is not None and not challenge.kind_impl.uses_device and switched_on("LLMBENCH_NO_SUITE_SERVER")
                and server.env == trusted_env())

    def _start_suite_server(self, challenge: Challenge):
        """The challenge's suite server, started now if it has not been (None: runs start plainly)."""
        key = str(challenge.path)
        with self._suite_lock:  # not the runs' lock: starting one waits for the fork server
            if key in self._suites:
                return self._suites[key]
            server = self.server
            if server is None or self._stopped:
                return None
            if self._logs is None:
                self._logs = tempfile.TemporaryDirectory(prefix="llmbench-suites-")
            log = Path(self._logs.name) / f"{challenge.id}.log"
            argv = suite_command(challenge) + ["--llmbench-serve"]
            try:
                suite = server.start_suite_server(argv, challenge.path, log)
            except ForkServerError as exc:
                self._fell_back(f"the suite server of {challenge.id} did not start ({exc})")
                suite = None
            self._suites[key] = suite
            if suite is not None and self._stopped:  # stopped while it was being forked (stop_all saw none)
                suite.abandon()
            return suite

    def _suite_server(self, challenge: Challenge):
        """The challenge's suite server once it serves; None where its runs start plainly."""
        if not self._serves(challenge):
            return None
        suite = self._start_suite_server(challenge)
        if suite is None or not suite.serving(READY_TIMEOUT_S):
            with self._suite_lock:
                self._suites[str(challenge.path)] = None  # it did not collect: each run collects (and reports) on its own
            return None
        return suite

    def launch(self, argv: list[str], cwd: Path, log: Path, cap: int | None):
        """Start a trusted pytest run writing to `log`, tracked until `finished`.

        Returns:
            A Popen-like object leading its own process group: forked from the fork server
            when one is up for this environment, else a plain process.
        """
        env = trusted_env()
        proc = None
        server = self.server
        if server is not None and server.env == env:
            try:
                proc = server.start(argv, cwd, env, log, cap)
            except ForkServerError as exc:
                self._fell_back(f"the fork server could not start a run ({exc})")
                proc = None  # a dead or stuck server: this run starts the slow way
        if proc is None:
            with open(log, "wb") as out:
                proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=cwd, env=env,
                                        preexec_fn=(lambda: _cap_address_space(cap)) if cap else None)
        return self._track(proc)

    def _track(self, proc):
        with self._lock:
            self._live.add(proc)
            stopped = self._stopped
        if stopped:  # launched while the run was being stopped (it waited for the server): stop it too
            stop([proc])
        return proc

    def finished(self, proc) -> None:
        """Forget a run that has ended."""
        with self._lock:
            self._live.discard(proc)

    def _fell_back(self, why: str) -> None:
        # Said once a run: what follows is slower (each run imports and collects afresh), never different.
        if not self._warned and not self._stopped:
            self._warned = True
            warnings.warn(f"{why}; trusted runs start as plain processes from now on (slower, same verdicts)",
                          stacklevel=3)

    def stop_all(self) -> None:
        """Stop every live run gracefully (see `stop`), and every run launched from now on; a suite
        server still collecting is killed (nothing waits for it any more)."""
        with self._lock:
            self._stopped = True
            live = list(self._live)
        for suite in list(self._suites.values()):
            if suite is not None:
                suite.abandon()
        stop(live)


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


# The options a suite server's run sets for itself (the rest are the server's, shared by its runs).
RUN_OPTIONS = ("llmbench_solution", "llmbench_adapter", "llmbench_map", "llmbench_only_trap", "llmbench_out",
               "llmbench_isolation", "llmbench_memory_mb", "llmbench_call_timeout", "llmbench_decisive_only",
               "maxfail")


def run_options_argv(options: dict) -> list[str]:
    """The command-line form of a run's options (`RUN_OPTIONS` -> value), for a plain pytest run."""
    argv: list[str] = []
    for dest, value in options.items():
        if dest not in RUN_OPTIONS:
            raise ValueError(f"not a run option: {dest}")
        flag = "--" + dest.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [f"{flag}={v}" for v in value]  # one token each: never read as an option
        else:
            argv.append(f"{flag}={value}")
    return argv


def run_options(solution: Path, adapter: Adapter, out: Path, isolation: str, only_trap: str | None = None,
                maxfail: int | None = None, limits: dict | None = None) -> dict:
    """The options of one run of a suite against one solution (`RUN_OPTIONS`).

    Args:
        solution: The folder under test.
        adapter: Its adapter (mapping and folder are passed on).
        out: Where the plugin writes the test records.
        isolation: Sandbox isolation mode of the worker.
        only_trap: A mutant control: only this trap's tests and the smoke tests.
        maxfail: Stop after this many failures (cheat controls); "beyond" tests are then left out.
        limits: The run's call timeout and worker memory (`memory_mb`, `call_timeout_s`), if given.
    """
    options = {"llmbench_solution": str(solution), "llmbench_out": str(out), "llmbench_isolation": isolation,
               "llmbench_adapter": str(adapter.path) if adapter.path is not None else None,
               "llmbench_map": [f"{entry}={target}" for entry, target in adapter.mapping.items()],
               "llmbench_only_trap": only_trap or None,
               # cheat controls: stop at the first failing test that decides (beyond tests never do)
               "maxfail": maxfail or None, "llmbench_decisive_only": bool(maxfail)}
    if limits:
        options["llmbench_call_timeout"] = float(limits["call_timeout_s"])
        options["llmbench_memory_mb"] = int(limits["memory_mb"])
    return options


def suite_command(challenge: Challenge, verbose: bool = False, k_expr: str | None = None) -> list[str]:
    """The trusted pytest command of a challenge's suite, without any run's options: what a suite
    server collects once and a plain run starts with."""
    # Output is captured at the sys level, not the descriptors': a suite server's runs are forked
    # after its session started, and descriptor capture would have them share its temporary files.
    argv = [sys.executable, "-m", "pytest", str(challenge.conformance_dir), "-p", "llmbench.conformance.plugin",
            "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(challenge.path), "--capture=sys",
            "-q" if not verbose else "-v", "--tb=short" if verbose else "--tb=line", *QUIET_PLUGINS]
    return argv + (["-k", k_expr] if k_expr else [])


def conformance_command(challenge: Challenge, solution: Path, adapter: Adapter, out: Path, isolation: str,
                        only_trap: str | None = None, k_expr: str | None = None, verbose: bool = False,
                        maxfail: int | None = None) -> list[str]:
    """The command line of the trusted pytest run of a challenge's suite against one solution.

    Args:
        challenge: The challenge, whose conformance/ folder is the suite.
        solution: The folder under test.
        adapter: Its adapter (mapping and folder are passed on).
        out: Where the plugin writes the test records.
        isolation: Sandbox isolation mode of the worker.
        only_trap: A mutant control: only this trap's tests and the smoke tests.
        k_expr: Only tests matching this ``-k`` expression.
        verbose: Verbose pytest output (``llmbench run -k``).
        maxfail: Stop after this many failures (cheat controls); "beyond" tests are then left out.

    Returns:
        The argv.
    """
    options = run_options(solution, adapter, out, isolation, only_trap, maxfail)
    return suite_command(challenge, verbose, k_expr) + run_options_argv(options)


def run_conformance(challenge: Challenge, solution: Path, adapter: Adapter, isolation: str,
                    only_trap: str | None = None, timeout_s: float | None = None, limits: dict | None = None,
                    maxfail: int | None = None, trusted: TrustedRuns | None = None):
    """Run the challenge's suite against a solution.

    Returns:
        (PhaseResult, trap verdicts, metrics). `trusted`: the run's TrustedRuns (its fork
        server, and Ctrl-C stopping the run); a plain, untracked process when None.
    """
    trusted = trusted or TrustedRuns()
    start = time.monotonic()
    limits = limits or challenge.limits
    timeout_s = timeout_s or float(limits["conformance_timeout_s"])
    with tempfile.TemporaryDirectory(prefix="llmbench-conf-") as tmp:
        out = Path(tmp) / "records.json"
        options = run_options(solution, adapter, out, isolation, only_trap, maxfail, limits)
        cap = trusted_address_space(challenge.kind_impl, int(limits["memory_mb"]))
        log_path = Path(tmp) / "pytest.log"
        proc = trusted.launch_suite(challenge, options, log_path, cap)
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop([proc])
            proc.wait()
        finally:
            trusted.finished(proc)
        log = log_path.read_bytes() if log_path.exists() else b""
        full_log = log.decode("utf-8", "replace")
        log_text = full_log[-8000:]
        records, exitstatus, secret = None, None, None
        if out.exists() and not timed_out:  # a stopped run's partial records are not a verdict
            try:
                payload = json.loads(out.read_text())
                records, exitstatus = payload["records"], payload.get("exitstatus")
                secret = payload.get("secret_seed")
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
        reason = phase.reason if timed_out else f"unverified: {phase.reason}"
        cause = "timeout" if timed_out else "harness_error"
        traps = {t.id: TrapVerdict(status="not_run", reason=reason, cause=cause) for t in challenge.traps}
        return phase, traps, {}
    tests = [_record(r) for r in records if isinstance(r, dict)]
    # Only tests of rules the study's prompt gave decide status and traps; "beyond" tests are
    # kept in the record, counted apart and shown as their own column.
    deciding = [t for t in tests if t.decides]
    phase = summarise(challenge, deciding, timed_out, timeout_s, duration, log_text)
    phase.tests = tests
    phase.beyond_counts = beyond_counts(tests)
    if isinstance(secret, int):  # the build's secret seed the multi-seed tests drew from (reproduce with it)
        phase.details["secret_seed"] = secret
    traps = trap_verdicts(challenge, deciding, only_trap)
    metrics = collect_metrics(challenge, tests)
    return phase, traps, metrics


def beyond_counts(tests: list[TestRecord]) -> dict[str, int]:
    """Outcome -> count over the tests stricter than the study's prompt. A failure that is our
    gap (a dependency, an adapter, a GPU) counts as not_run: it shows nothing about the solution."""
    from ..failures import BEHAVIOURAL, blocked_entries, effective_failure, proven_entries, view

    views = [view(t) for t in tests]
    proven, blocked = proven_entries(views), blocked_entries(views)
    out: dict[str, int] = {}
    for t, v in zip(tests, views):
        if t.decides:
            continue
        outcome = t.outcome
        if outcome in ("failed", "error", "timeout") and effective_failure(v, proven, blocked) not in BEHAVIOURAL:
            outcome = "not_run"
        out[outcome] = out.get(outcome, 0) + 1
    return out


def _record(raw: dict) -> TestRecord:
    """A TestRecord from the plugin's JSON (written by our trusted pytest; fields checked)."""
    data = {k: v for k, v in raw.items() if k in TestRecord.model_fields}
    data["metrics"], _dropped = finite_metrics(data.get("metrics") or {})
    return TestRecord(**data)


def summarise(challenge, tests, timed_out, timeout_s, duration, log_text) -> PhaseResult:
    """The conformance phase's record from its tests: outcome counts and the status `llmbench.failures.conformance_status` gives."""
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.outcome] = counts.get(t.outcome, 0) + 1
    status, reason = conformance_status(tests, timed_out, timeout_s)
    return PhaseResult(name="conformance", status=status, reason=reason, counts=counts, tests=tests,
                       duration_s=duration, log_tail=log_text)


def trap_verdicts(challenge: Challenge, tests: list[TestRecord], only_trap: str | None = None) -> dict[str, TrapVerdict]:
    """Trap verdicts from the records: fell_in only on behavioural evidence (llmbench.failures)."""
    return {tid: TrapVerdict(**v) for tid, v in judge_traps(challenge.trap_ids, tests, only_trap).items()}


def collect_metrics(challenge: Challenge, tests: list[TestRecord]) -> dict[str, Metric]:
    """The declared metrics the tests recorded, the first finite value of each; self-reported ones marked as such."""
    out: dict[str, Metric] = {}
    for t in tests:
        kept, _ = finite_metrics(t.metrics)
        for name, value in kept.items():
            spec = challenge.metric(name)
            if name not in out and spec is not None:
                out[name] = Metric(value=value, unit=spec.unit, better=spec.better, test=t.name,
                                   self_reported=name in SELF_REPORTED)
    return out
