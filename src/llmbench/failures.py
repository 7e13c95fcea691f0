"""One vocabulary of failure, and the pure functions that turn per-test records into verdicts.

Every way a call or a test can fail is a member of `Failure`. The worker, the proxy, the
conformance plugin, the phase summaries, trap verdicts and the overall status all speak it;
nothing here touches the disk or runs code, so the rules are tested table-driven
(tests/core/test_failures.py).

The central rule (GUIDE principle 3): a trap is fallen into only on behavioural evidence.
A failure is *our gap* when it says nothing about the solution's behaviour: its calling
convention differs from the canonical one (needs an adapter), it imports a package we do
not install, its entry point is missing or ambiguous, there is no GPU, or our harness broke.
Gaps give `not_run` with a reason, never `fell_in`, never a flag.

Some gap evidence is *verified* by the trusted side before the solution runs on a test's
inputs (entry point found or not, signature checked and arguments bound against it): it
cannot be forged. Other gap evidence comes from inside the solution's process or from the
shape of what it returned (an AttributeError on an object we supplied, a tuple where a
pair was expected). A solution could imitate that on a trap's inputs only, so such a
*reported* gap counts as a gap only for an entry point that no test has seen working;
once a test calling the entry point passed, the same failure is the solution's behaviour.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Mapping


class Failure(str, Enum):
    """How a call or a test failed. The value is what results store (TestRecord.failure)."""

    WRONG_ANSWER = "wrong_answer"  # ran on valid inputs, returned something our check rejects
    RAISED = "raised"  # the solution raised its own exception
    TIMEOUT = "timeout"  # ran past its time limit (trusted clock)
    CRASHED = "crashed"  # the solution's process died or sent a malformed reply
    RESOURCE_LIMIT = "resource_limit"  # hit the memory (or other) limit
    PROTOCOL = "protocol_mismatch"  # calling convention differs: arguments, methods, return structure
    ENTRY_MISSING = "entry_missing"  # no callable of the canonical name
    AMBIGUOUS = "ambiguous_entry"  # several modules define the entry point
    MISSING_DEPENDENCY = "missing_dependency"  # imports a package the sandbox does not install
    NO_GPU = "no_gpu"  # needs a GPU this machine lacks
    HARNESS_ERROR = "harness_error"  # our harness or suite broke; says nothing about the solution
    LOAD_ERROR = "load_error"  # the solution's module raised while being imported: it cannot run

    @property
    def is_gap(self) -> bool:
        """True when the failure is ours (the solution was not judged), False when behavioural."""
        return self in GAPS

    @property
    def needs_adapter(self) -> bool:
        """True when a thin adapter would fix it: the calling convention differs, or the entry point is
        missing or ambiguous.
        """
        return self in (Failure.PROTOCOL, Failure.ENTRY_MISSING, Failure.AMBIGUOUS)


# Trap evidence: the solution ran on valid inputs and did the wrong thing.
BEHAVIOURAL = frozenset({Failure.WRONG_ANSWER, Failure.RAISED, Failure.TIMEOUT, Failure.CRASHED,
                         Failure.RESOURCE_LIMIT})
# The solution's fault, but no trap evidence: it never ran on the test's inputs.
UNRUNNABLE = frozenset({Failure.LOAD_ERROR})
GAPS = frozenset(set(Failure) - BEHAVIOURAL - UNRUNNABLE)

# What a reader sees for a gap: the cause first, then the detail.
GAP_PREFIX = {
    Failure.PROTOCOL: "calling convention differs: needs an adapter",
    Failure.ENTRY_MISSING: "entry point not found: needs an adapter mapping",
    Failure.AMBIGUOUS: "ambiguous entry point: needs an adapter mapping",
    Failure.MISSING_DEPENDENCY: "needs",  # "needs mlx"
    Failure.NO_GPU: "compiled, not run: no GPU here",
    Failure.HARNESS_ERROR: "unverified: harness error",
}


def parse_failure(value: str | None) -> Failure | None:
    """The Failure a stored string names, None for "" or an unknown word (older results)."""
    if not value:
        return None
    try:
        return Failure(value)
    except ValueError:
        return None


def gap_reason(failure: Failure, detail: str = "") -> str:
    """The sentence shown for a gap, e.g. "needs mlx" or "calling convention differs: ... (detail)"."""
    detail = detail.strip()
    if failure is Failure.MISSING_DEPENDENCY:
        names = detail.removeprefix("missing dependency").strip(" :") or "a package we do not install"
        return f"needs {names}"
    prefix = GAP_PREFIX.get(failure, failure.value)
    if not detail or detail in prefix:
        return prefix
    return f"{prefix} ({detail})"


# ------------------------------------------------------------------------------- tests
@dataclass(frozen=True)
class TestView:
    """What the verdict rules need of one conformance test record (schema.TestRecord fits).

    Attributes:
        name: The test's id.
        outcome: ``passed``, ``failed``, ``error``, ``timeout``, ``skipped`` or ``not_run``.
        failure: Why it did not pass, when it did not.
        verified: The gap was established by the trusted side, not reported by the worker.
        entry: The entry point whose call failed (empty when the failure was not in a call).
        calls: Entry points the test called.
        trap: The trap it detects, if any.
        smoke: A smoke test (an entry point callable at all).
        message: What went wrong.
    """

    __test__ = False  # not a pytest class

    name: str
    outcome: str  # passed | failed | error | timeout | skipped | not_run
    failure: Failure | None = None
    verified: bool = False  # the gap was established by the trusted side, not reported
    entry: str = ""  # entry point whose call failed ("" when the failure was not in a call)
    calls: tuple[str, ...] = ()  # entry points the test called
    trap: str | None = None
    smoke: bool = False
    message: str = ""


def view(record) -> TestView:
    """A TestView of a schema.TestRecord (or any object with the same attributes)."""
    return TestView(name=record.name, outcome=record.outcome, failure=parse_failure(getattr(record, "failure", "")),
                    verified=bool(getattr(record, "verified", False)), entry=getattr(record, "entry", "") or "",
                    calls=tuple(getattr(record, "calls", ()) or ()), trap=getattr(record, "trap", None),
                    smoke=bool(getattr(record, "smoke", False)), message=getattr(record, "message", "") or "")


def _ran_bad(t: TestView) -> bool:
    return t.outcome in ("failed", "error", "timeout")


def proven_entries(tests: Iterable[TestView]) -> set[str]:
    """Entry points that some passing test called: their calling convention works."""
    return {e for t in tests if t.outcome == "passed" for e in t.calls}


def blocked_entries(tests: list[TestView]) -> dict[str, TestView]:
    """Entry points whose every smoke test failed for a gap (and that no test saw working),
    with the first such smoke test: no test calling them can give behavioural evidence."""
    proven = proven_entries(tests)
    smoke_by_entry: dict[str, list[TestView]] = {}
    for t in tests:
        if t.smoke:
            for e in t.calls or ((t.entry,) if t.entry else ()):
                smoke_by_entry.setdefault(e, []).append(t)
    out = {}
    for entry, smokes in smoke_by_entry.items():
        if entry in proven:
            continue
        gaps = [t for t in smokes if _ran_bad(t) and _raw_gap(t, proven)]
        if gaps and len(gaps) == len(smokes):
            out[entry] = gaps[0]
    return out


def _raw_gap(t: TestView, proven: set[str]) -> bool:
    """The test's own failure is a gap: verified, or reported on an entry no test saw working."""
    if t.failure is None or not t.failure.is_gap:
        return False
    if t.verified or t.failure in (Failure.HARNESS_ERROR, Failure.NO_GPU):
        return True
    return t.entry not in proven if t.entry else not (set(t.calls) & proven)


def effective_failure(t: TestView, proven: set[str], blocked: Mapping[str, TestView]) -> Failure | None:
    """The failure the verdicts use for one test (None when it passed or was skipped).

    A reported gap on an entry point some passing test called becomes behaviour (RAISED for
    protocol / dependency claims): the solution already showed that its convention works.
    A behavioural-looking failure in a test that called a blocked entry point becomes that
    entry point's gap: the test could not have exercised the behaviour it checks.
    """
    if not _ran_bad(t):
        return None
    failure = t.failure or (Failure.TIMEOUT if t.outcome == "timeout" else Failure.WRONG_ANSWER)
    if failure.is_gap:
        if _raw_gap(t, proven):
            return failure
        # A structure claim becomes a wrong answer, a claim made from inside a call its exception.
        failure = Failure.WRONG_ANSWER if failure is Failure.PROTOCOL else Failure.RAISED
    hit = [e for e in t.calls if e in blocked]
    if hit:
        return blocked[hit[0]].failure
    return failure


def _gap_detail(t: TestView) -> str:
    return t.message.split("\n", 1)[0][:300]


def trap_verdicts(trap_ids: Iterable[str], records, only_trap: str | None = None) -> dict[str, dict]:
    """Each trap's verdict from the conformance tests' records.

    fell_in needs a test of the trap whose effective failure is behavioural. A trap whose
    failing tests all failed for a gap is not_run with the gap's reason (cause = the
    Failure's value); a trap whose tests all passed is avoided.

    Args:
        trap_ids: The challenge's traps.
        records (Iterable): The test records (`llmbench.schema.TestRecord` or `TestView`).
        only_trap: A mutant control's trap: every other trap is not_run.

    Returns:
        Trap id -> ``{"status", "reason", "tests", "cause"}`` (`llmbench.schema.TrapVerdict` fields).
    """
    tests = [r if isinstance(r, TestView) else view(r) for r in records]
    proven = proven_entries(tests)
    blocked = blocked_entries(tests)
    out: dict[str, dict] = {}
    for trap in trap_ids:
        mine = [t for t in tests if t.trap == trap]
        names = [t.name for t in mine]
        if only_trap and trap != only_trap:
            out[trap] = dict(status="not_run", reason=f"control run for trap {only_trap} only", tests=[], cause="")
            continue
        if not mine:
            out[trap] = dict(status="not_run", reason="no test for this trap ran", tests=names, cause="")
            continue
        judged = [(t, effective_failure(t, proven, blocked)) for t in mine]
        fell = [(t, f) for t, f in judged if f in BEHAVIOURAL]
        gaps = [(t, f) for t, f in judged if f is not None and f.is_gap]
        unloadable = [t for t, f in judged if f in UNRUNNABLE]
        passed = [t for t in mine if t.outcome == "passed"]
        if fell:
            t, f = fell[0]
            word = "timed out" if f is Failure.TIMEOUT else ""
            reason = f"{t.name}: {word + ': ' if word else ''}{t.message[:500]}".rstrip(": ")
            out[trap] = dict(status="fell_in", reason=reason, tests=names, cause=f.value)
        elif unloadable:
            out[trap] = dict(status="not_run", reason=f"could not be loaded: {_gap_detail(unloadable[0])}",
                             tests=names, cause=Failure.LOAD_ERROR.value)
        elif gaps:
            t, f = gaps[0]
            source = blocked.get(next((e for e in t.calls if e in blocked), ""), t)
            out[trap] = dict(status="not_run", reason=gap_reason(f, _gap_detail(source)), tests=names, cause=f.value)
        elif passed:
            skipped = [t for t in mine if t.outcome != "passed"]
            note = f"{len(skipped)} of {len(mine)} tests skipped: {skipped[0].message[:200]}" if skipped else ""
            out[trap] = dict(status="avoided", reason=note, tests=names, cause="")
        else:
            out[trap] = dict(status="not_run", reason=(mine[0].message or "skipped")[:500], tests=names, cause="")
    return out


def conformance_status(records, timed_out: bool = False, timeout_s: float = 0.0) -> tuple[str, str]:
    """(PhaseStatus, reason) of a conformance run from its records.

    failed: some test failed on behavioural evidence. timeout: the run itself ran out of time.
    needs_adapter / missing_dependency / harness_error: every failing test failed for that
    gap and none for behaviour, and nothing passed. partial: some tests passed, none failed
    on behaviour, some could not run for a gap. ok: every test that ran passed.
    """
    tests = [r if isinstance(r, TestView) else view(r) for r in records]
    if timed_out:
        return "timeout", f"conformance timed out after {timeout_s:g} s"
    proven = proven_entries(tests)
    blocked = blocked_entries(tests)
    judged = [(t, effective_failure(t, proven, blocked)) for t in tests]
    harness = [(t, f) for t, f in judged if f is Failure.HARNESS_ERROR]
    if harness:
        t = harness[0][0]
        return "harness_error", f"suite or harness error in {t.name}: {t.message[:400]}"
    bad = [(t, f) for t, f in judged if f in BEHAVIOURAL]
    gaps = [(t, f) for t, f in judged if f is not None and f.is_gap]
    unloadable = [t for t, f in judged if f in UNRUNNABLE]
    passed = [t for t in tests if t.outcome == "passed"]
    if unloadable and not bad:
        detail = f"could not be loaded: {_gap_detail(unloadable[0])}"
        if not passed and "hung while loading" in unloadable[0].message:
            # Importing the solution never finished: it timed out (still no trap evidence).
            return "timeout", detail
        return ("failed" if passed else "not_runnable"), detail
    if bad:
        t, f = bad[0]
        hung = [t for t, f in bad if f is Failure.TIMEOUT]
        if len(hung) == len(bad) and not passed:
            return "timeout", (f"{len(hung)} of {len(tests)} conformance tests timed out; "
                               f"first: {hung[0].name}: {hung[0].message[:300]}")
        return "failed", (f"{len(bad)} of {len(tests)} conformance tests did not pass; "
                          f"first: {t.name}: {t.message[:300]}")
    if gaps:
        t, f = gaps[0]
        source = blocked.get(next((e for e in t.calls if e in blocked), ""), t)
        reason = gap_reason(f, _gap_detail(source))
        if passed:
            return "partial", f"{len(gaps)} of {len(tests)} conformance tests not run: {reason}"
        return gap_status(f), reason
    if not passed:
        first = next((t.message for t in tests if t.message), "")
        return "not_run", "no conformance test could run here" + (f" ({first[:300]})" if first else "")
    return "ok", ""


def gap_status(failure: Failure) -> str:
    """The status word of a run that could not judge behaviour because of this gap."""
    if failure.needs_adapter:
        return "needs_adapter"
    if failure is Failure.MISSING_DEPENDENCY:
        return "missing_dependency"
    if failure is Failure.NO_GPU:
        return "compiled_not_run"
    return "harness_error"


# ------------------------------------------------------------------------------ status
# Phase statuses that are our gap (the solution was not judged by that phase).
GAP_STATUSES = ("needs_adapter", "missing_dependency", "compiled_not_run", "harness_error", "not_run")
JUDGING_PHASES = ("conformance", "own_tests")


def overall_status(phases: Mapping, traps: Mapping, judging: tuple[str, ...] = JUDGING_PHASES) -> tuple[str, str]:
    """(Status, reason) of a whole result from its phases (objects with .name/.status/.reason)
    and trap verdicts (objects with .status).

    Behaviour first: a failure the solution caused (fell into a trap, a failing test, a
    compile error, a hang) decides the status even when another phase hit a gap. Never "ok"
    unless a phase that judges behaviour ran: compilation alone gives compiled_not_run, a
    run where only some phases or entry points could run gives partial.

    `judging` names the phases that judge behaviour (a kind's phases say which, see
    `llmbench.phases.base.Phase.judges_behaviour`).
    """
    comp = phases.get("compile")
    conf = phases.get("conformance")
    own = phases.get("own_tests")
    for p in phases.values():
        if p.status == "harness_error":
            return "harness_error", f"{p.name}: {p.reason}"
    if comp is not None and comp.status in ("failed", "timeout"):
        return comp.status, f"compile: {comp.reason}"
    fell = [t for t, v in traps.items() if getattr(v, "status", v) == "fell_in"]
    if conf is not None and conf.status == "failed":
        return "failed", conf.reason
    if conf is not None and conf.status == "timeout":  # every failing test hung: say so
        return "timeout", conf.reason
    if fell:
        return "failed", f"fell into {', '.join(fell)}"
    if own is not None and own.status == "failed":
        return "failed", f"own tests: {own.reason}"
    if conf is not None and conf.status == "timeout":
        return "timeout", conf.reason
    if own is not None and own.status == "timeout":
        return "timeout", f"own tests: {own.reason}"
    if conf is not None and conf.status == "not_runnable":
        return "not_runnable", conf.reason
    judged = [p for p in phases.values() if p.name in judging and p.status in ("ok", "partial")]
    if comp is not None and comp.status == "ok" and not judged:
        why = (conf.reason if conf is not None else "") or (own.reason if own is not None else "")
        return "compiled_not_run", why or "compiled; nothing else could run here"
    if comp is not None and comp.status == "not_run" and not judged:
        return "missing_dependency", f"compile: {comp.reason}"
    if conf is not None and conf.status in ("needs_adapter", "missing_dependency", "compiled_not_run"):
        return conf.status, conf.reason
    if own is not None and own.status in ("not_runnable", "missing_dependency") and (
            conf is None or conf.status == "not_run"):
        return own.status, f"own tests: {own.reason}"
    if conf is not None and conf.status == "partial":
        return "partial", conf.reason
    if conf is not None and conf.status == "not_run":
        if own is not None and own.status == "ok":
            return "partial", f"conformance not run: {conf.reason}"
        return "not_runnable", conf.reason
    if own is not None and own.status in ("missing_dependency", "not_runnable"):
        return "partial", f"own tests not run: {own.reason}"
    if not judged:
        why = next((p.reason for p in phases.values() if p.reason), "")
        return "not_runnable", why or "no phase could judge the solution"
    return "ok", ""


def finite_metrics(values: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    """(finite metrics, names dropped because their value is NaN or infinite)."""
    kept, dropped = {}, []
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            dropped.append(name)
            continue
        if math.isfinite(number):
            kept[name] = number
        else:
            dropped.append(name)
    return kept, dropped
