"""The failure vocabulary and the verdict rules (llmbench.failures): pure, table-driven.

Each case is a finding of issue 11: a trap is fallen into only on behavioural evidence;
gaps (calling convention, missing dependency, ambiguity, compile-only, harness errors)
give not_run with a reason a reader understands.
"""
from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from llmbench.failures import (Failure, TestView, conformance_status, finite_metrics, gap_reason, overall_status,
                               trap_verdicts)

T = TestView


def smoke(outcome="passed", failure=None, calls=("f",), verified=False, entry="", message=""):
    return T("smoke", outcome, failure, verified, entry or (calls[0] if failure else ""), calls, None, True, message)


def trap_test(name, trap, outcome="passed", failure=None, calls=("f",), verified=False, entry="", message="m"):
    return T(name, outcome, failure, verified, entry or (calls[0] if failure else ""), calls, trap, False, message)


P, W, R = Failure.PROTOCOL, Failure.WRONG_ANSWER, Failure.RAISED

CASES = [
    # (why, records, expected trap status, expected cause)
    ("all pass -> avoided", [smoke(), trap_test("t", "a")], "avoided", ""),
    ("wrong answer after a working smoke -> fell_in",
     [smoke(), trap_test("t", "a", "failed", W)], "fell_in", "wrong_answer"),
    ("verified protocol mismatch (signature) -> not_run, never fell_in",
     [smoke("error", P, verified=True, message="order differs"), trap_test("t", "a", "error", P, verified=True)],
     "not_run", "protocol_mismatch"),
    ("missing dependency caught by a broad except in the suite -> not_run",
     [smoke("error", Failure.MISSING_DEPENDENCY, verified=True, message="missing dependency mlx"),
      trap_test("t", "a", "error", Failure.MISSING_DEPENDENCY, verified=True)], "not_run", "missing_dependency"),
    ("ambiguous entry point -> not_run",
     [trap_test("t", "a", "error", Failure.AMBIGUOUS, verified=True)], "not_run", "ambiguous_entry"),
    ("reported protocol gap on an entry no test saw working -> not_run",
     [smoke("error", P), trap_test("t", "a", "error", P)], "not_run", "protocol_mismatch"),
    ("reported protocol gap on an entry a passing test used -> behaviour (a forged gap does not help)",
     [smoke(), trap_test("t", "a", "error", P)], "fell_in", "wrong_answer"),
    ("reported missing dependency on a proven entry -> raised",
     [smoke(), trap_test("t", "a", "error", Failure.MISSING_DEPENDENCY)], "fell_in", "raised"),
    ("assertion in a test of an entry whose every smoke test hit a gap -> not_run",
     [smoke("error", P, message="dtype float64, expected bool"), trap_test("t", "a", "failed", W)],
     "not_run", "protocol_mismatch"),
    ("assertion on another entry than the blocked one -> still fell_in",
     [smoke("error", P, calls=("g",)), smoke(calls=("f",)), trap_test("t", "a", "failed", W, calls=("f",))],
     "fell_in", "wrong_answer"),
    ("timeout of a trap test after a working smoke -> fell_in (behaviour)",
     [smoke(), trap_test("t", "a", "timeout", Failure.TIMEOUT)], "fell_in", "timeout"),
    ("harness error -> not_run, unverified",
     [smoke(), trap_test("t", "a", "error", Failure.HARNESS_ERROR, verified=True)], "not_run", "harness_error"),
    ("the solution's module raises on import -> not_run (no trap evidence)",
     [trap_test("t", "a", "error", Failure.LOAD_ERROR, verified=True, message="SyntaxError")], "not_run",
     "load_error"),
    ("a remote-model convention is proven only by a passing call that also passed a model",
     [smoke(calls=("f",)), trap_test("t", "a", "error", P, calls=("f+remote",))], "not_run", "protocol_mismatch"),
]


@pytest.mark.parametrize("why,records,status,cause", CASES, ids=[c[0] for c in CASES])
def test_trap_verdict_table(why, records, status, cause):
    verdict = trap_verdicts(["a"], records)["a"]
    assert (verdict["status"], verdict["cause"]) == (status, cause), verdict


def test_gap_reasons_are_readable():
    assert gap_reason(Failure.MISSING_DEPENDENCY, "missing dependency mlx") == "needs mlx"
    assert gap_reason(Failure.PROTOCOL, "x is argument 2 here").startswith("calling convention differs: needs an adapter")
    records = [smoke("error", Failure.MISSING_DEPENDENCY, verified=True, message="missing dependency mlx"),
               trap_test("t", "a", "failed", W)]
    assert trap_verdicts(["a"], records)["a"]["reason"] == "needs mlx"


STATUS_CASES = [
    ("all passed", [smoke(), trap_test("t", "a")], "ok"),
    ("behaviour failed", [smoke(), trap_test("t", "a", "failed", W)], "failed"),
    ("every test a verified protocol gap", [smoke("error", P, verified=True)], "needs_adapter"),
    ("every test a missing dependency", [smoke("error", Failure.MISSING_DEPENDENCY, verified=True)],
     "missing_dependency"),
    ("some ran, the rest need an adapter", [smoke(calls=("g",)), trap_test("t", "a", "error", P, verified=True)],
     "partial"),
    ("only hangs", [smoke("timeout", Failure.TIMEOUT)], "timeout"),
    ("suite error", [smoke(), trap_test("t", "a", "error", Failure.HARNESS_ERROR, verified=True)], "harness_error"),
    ("import crash", [smoke("error", Failure.LOAD_ERROR, verified=True)], "not_runnable"),
]


@pytest.mark.parametrize("why,records,status", STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_conformance_status_table(why, records, status):
    assert conformance_status(records)[0] == status


def phase(name, status, reason=""):
    return NS(name=name, status=status, reason=reason)


OVERALL = [
    ("compile only, no GPU: never ok",
     {"compile": phase("compile", "ok"), "own_tests": phase("own_tests", "not_run", "no GPU"),
      "conformance": phase("conformance", "not_run", "no GPU")}, {}, "compiled_not_run"),
    ("own tests hang: timed out, not failed",
     {"own_tests": phase("own_tests", "timeout", "timed out"), "conformance": phase("conformance", "ok")}, {},
     "timeout"),
    ("needs an adapter", {"own_tests": phase("own_tests", "ok"), "conformance": phase("conformance", "needs_adapter")},
     {}, "needs_adapter"),
    ("behaviour beats gaps", {"own_tests": phase("own_tests", "failed"),
                              "conformance": phase("conformance", "needs_adapter")}, {}, "failed"),
    ("a trap fallen into", {"conformance": phase("conformance", "ok")}, {"a": NS(status="fell_in")}, "failed"),
    ("partial conformance", {"conformance": phase("conformance", "partial")}, {}, "partial"),
    ("everything ran", {"own_tests": phase("own_tests", "ok"), "conformance": phase("conformance", "ok")},
     {"a": NS(status="avoided")}, "ok"),
    ("own tests need a package, conformance ok: partial",
     {"own_tests": phase("own_tests", "missing_dependency"), "conformance": phase("conformance", "ok")}, {}, "partial"),
]


@pytest.mark.parametrize("why,phases,traps,status", OVERALL, ids=[c[0] for c in OVERALL])
def test_overall_status_table(why, phases, traps, status):
    assert overall_status(phases, traps)[0] == status


def test_non_finite_metrics_are_dropped():
    kept, dropped = finite_metrics({"a": 1.5, "b": float("nan"), "c": float("inf"), "d": "x"})
    assert kept == {"a": 1.5} and sorted(dropped) == ["b", "c", "d"]
