"""Grades versus evidence: letter grades, contradiction flags and evidence-based rankings.

A published grade is a judge's opinion; a result is what the harness measured. These pure
functions compare the two and never touch the disk, so the site, the CLI and the tests
share one definition. The rules are documented in docs/methodology.md ("Grade versus
evidence"); keep both in step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from .schema import Result
from .vocabulary import is_gap, status_term, trap_term

# Letter grades and their points. A+ sits above A so that ordering stays strict.
_LETTER_POINTS = {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0}
_SIGN_POINTS = {"+": 0.3, "": 0.0, "-": -0.3}
_GRADE = re.compile(r"^\s*([A-DF])\s*([+-]?)\s*$")

# "High" grade: the judge called the solution good. "Low": the judge called it weak.
HIGH_GRADE = "B+"
LOW_GRADE = "C+"

# Phase statuses that are the solution's fault (harness_error and not_run are not).
_BAD_PHASE = ("failed", "timeout", "not_runnable")


def grade_points(grade: str | None) -> float | None:
    """Points of a letter grade (A = 4.0, A- = 3.7, B+ = 3.3, ..., F = 0).

    A split grade such as "A-/B+" (the study's averages) is the mean of its parts.
    None or text that is no grade gives None.
    """
    if grade is None:
        return None
    parts = grade.split("/")
    points = []
    for part in parts:
        m = _GRADE.match(part)
        if not m:
            return None
        letter, sign = m.groups()
        if letter == "F":
            if sign:
                return None
            points.append(0.0)
        else:
            points.append(_LETTER_POINTS[letter] + _SIGN_POINTS[sign])
    return round(sum(points) / len(points), 4)


def is_grade(text: str | None) -> bool:
    """Whether the text is a letter grade (or a split like ``"A-/B+"``) that `grade_points` can read."""
    return grade_points(text) is not None


def grade_from_points(points: float) -> str:
    """The nearest letter grade to a point value (for averages)."""
    best, best_gap = "F", abs(points)
    for letter, base in _LETTER_POINTS.items():
        for sign, offset in _SIGN_POINTS.items():
            gap = abs(points - (base + offset))
            if gap < best_gap - 1e-9:
                best, best_gap = letter + sign, gap
    return best


def grade_sort_key(grade: str | None) -> float:
    """Sort key, best first when used with sorted(..., key=grade_sort_key): ungraded last."""
    points = grade_points(grade)
    return -points if points is not None else float("inf")


def average_grade(grades: Iterable[str | None]) -> str | None:
    """The nearest letter grade to the mean of the readable grades, or None when none is readable."""
    points = [p for p in (grade_points(g) for g in grades) if p is not None]
    if not points:
        return None
    return grade_from_points(sum(points) / len(points))


@dataclass(frozen=True)
class Flag:
    """One contradiction between a grade and the evidence of a result."""

    rule: str  # stable id, e.g. "high_grade_trap"; documented in docs/methodology.md
    label: str  # a few words for a table cell
    explanation: str  # one or two sentences with the evidence


def _phase(result: Result, name: str):
    return result.phases.get(name)


def _own_test_asserts(phase) -> int | None:
    """Assertions counted in the solution's own tests, or None when nobody counted."""
    if "asserts" in phase.counts:
        return phase.counts["asserts"]
    counted = [t.asserts for t in phase.tests if t.asserts is not None]
    return sum(counted) if counted else None


def _conformance_failures(result: Result) -> list[str]:
    """Conformance tests that failed on behavioural evidence and are not tied to a trap (trap
    tests have their own rule). Our gaps (needs an adapter, a dependency) are never a failure."""
    from .failures import BEHAVIOURAL, blocked_entries, effective_failure, proven_entries, view

    phase = _phase(result, "conformance")
    if phase is None or phase.status == "harness_error":
        return []
    tests = [view(t) for t in phase.tests if t.decides]
    proven, blocked = proven_entries(tests), blocked_entries(tests)
    return [t.name for t in tests if not t.trap and effective_failure(t, proven, blocked) in BEHAVIOURAL]


def _fell_in(result: Result) -> list[str]:
    return sorted(tid for tid, verdict in result.traps.items() if verdict.status == "fell_in")


def _everything_passes(result: Result) -> bool:
    """The solution runs, its own tests pass and assert something, and no conformance test fails."""
    if result.status != "ok":
        return False
    for phase in result.phases.values():
        if phase.status in _BAD_PHASE or phase.status == "harness_error":
            return False
    conformance = _phase(result, "conformance")
    if conformance is None or conformance.status != "ok":
        return False
    if any(t.outcome in ("failed", "error", "timeout") and t.decides for t in conformance.tests):
        return False
    if _fell_in(result):
        return False
    if not any(v.status == "avoided" for v in result.traps.values()):
        return False  # nothing was actually shown to work
    own = _phase(result, "own_tests")
    if own is not None and own.status == "ok" and _own_test_asserts(own) == 0:
        return False
    return True


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def flags(grade: str | None, result: Result | None) -> list[Flag]:
    """Contradictions between a judge's grade and a solution's result (empty when none).

    No grade, no result or a control run gives no flags. A harness error in one phase drops
    only what that phase would have shown (the rest still counts); our gaps (needs an
    adapter, a dependency, a GPU) never raise a flag.
    """
    points = grade_points(grade)
    if points is None or result is None or result.run_kind != "solution":
        return []
    if is_gap(result) and result.status not in ("harness_error", "partial"):
        return []  # our gap (no adapter, no GPU, a dependency we do not install): says nothing of the solution
    out: list[Flag] = []
    if points >= grade_points(HIGH_GRADE):
        compile_phase = _phase(result, "compile")
        if compile_phase is not None and compile_phase.status in _BAD_PHASE \
                and not status_term(compile_phase.status, compile_phase.reason).gap:
            reason = compile_phase.reason or compile_phase.status
            out.append(Flag("high_grade_no_compile", "does not compile",
                            f"Graded {grade}, but the code does not compile: {reason}."))
        elif result.status == "not_runnable":
            out.append(Flag("high_grade_not_runnable", "cannot run",
                            f"Graded {grade}, but the solution could not be run: {result.reason or 'not runnable'}."))
        own = _phase(result, "own_tests")
        if own is not None and own.status != "harness_error" and not status_term(own.status, own.reason).gap:
            if own.status == "failed":
                failed = own.counts.get("failed", 0) + own.counts.get("error", 0)
                detail = f"{_plural(failed, 'test')} failed" if failed else (own.reason or "they failed")
                out.append(Flag("high_grade_own_tests_fail", "own tests fail",
                                f"Graded {grade}, but the solution's own tests fail: {detail}."))
            elif own.status == "timeout":
                out.append(Flag("high_grade_own_tests_hang", "own tests hang",
                                f"Graded {grade}, but the solution's own tests did not finish in time"
                                f"{': ' + own.reason if own.reason else ''}."))
            elif own.status == "ok" and _own_test_asserts(own) == 0:
                out.append(Flag("high_grade_tests_assert_nothing", "tests assert nothing",
                                f"Graded {grade}, but the solution's own tests contain no assertion: "
                                "they pass whatever the code computes."))
        fell = _fell_in(result)
        if fell:
            out.append(Flag("high_grade_trap", "falls into a trap",
                            f"Graded {grade}, but the solution falls into {_plural(len(fell), 'trap')} "
                            f"of this challenge: {', '.join(fell)}."))
        conformance = _phase(result, "conformance")
        if conformance is not None and conformance.status == "timeout":
            out.append(Flag("high_grade_conformance_hangs", "conformance times out",
                            f"Graded {grade}, but the conformance run did not finish in time"
                            f"{': ' + conformance.reason if conformance.reason else ''}."))
        failures = _conformance_failures(result)
        if failures:
            shown = ", ".join(failures[:3]) + (" ..." if len(failures) > 3 else "")
            out.append(Flag("high_grade_conformance_fails", "conformance fails",
                            f"Graded {grade}, but {_plural(len(failures), 'conformance test')} "
                            f"outside the traps fail: {shown}."))
    if points <= grade_points(LOW_GRADE) and _everything_passes(result):
        avoided = sum(1 for v in result.traps.values() if v.status == "avoided")
        out.append(Flag("low_grade_all_pass", "low grade, all checks pass",
                        f"Graded {grade}, yet the solution runs, its own tests pass, every conformance "
                        f"test passes and it avoids {_plural(avoided, 'trap')}."))
    return out


# Every rule, for documentation and the site's legend: id -> (label, when it fires).
RULES: dict[str, tuple[str, str]] = {
    "high_grade_no_compile": ("does not compile", f"grade {HIGH_GRADE} or better; the compile phase failed or timed out"),
    "high_grade_not_runnable": ("cannot run", f"grade {HIGH_GRADE} or better; the solution could not be loaded or run"),
    "high_grade_own_tests_fail": ("own tests fail", f"grade {HIGH_GRADE} or better; the solution's own tests fail"),
    "high_grade_own_tests_hang": ("own tests hang", f"grade {HIGH_GRADE} or better; the solution's own tests time out"),
    "high_grade_tests_assert_nothing": ("tests assert nothing",
                                        f"grade {HIGH_GRADE} or better; the own tests pass but contain no assertion"),
    "high_grade_trap": ("falls into a trap", f"grade {HIGH_GRADE} or better; at least one trap verdict is fell_in"),
    "high_grade_conformance_hangs": ("conformance times out",
                                     f"grade {HIGH_GRADE} or better; the conformance run timed out as a whole"),
    "high_grade_conformance_fails": ("conformance fails",
                                     f"grade {HIGH_GRADE} or better; a conformance test not tied to a trap fails"),
    "low_grade_all_pass": ("low grade, all checks pass",
                           f"grade {LOW_GRADE} or worse; everything runs and passes and at least one trap is avoided"),
}


def study_grades(study: Mapping) -> dict[tuple[str, str], str]:
    """(model, challenge) -> grade from a parsed data/study.toml ([grades.<challenge>] model = grade)."""
    out = {}
    for challenge, by_model in (study.get("grades") or {}).items():
        for model, grade in by_model.items():
            out[(model, challenge)] = grade
    return out


def _results_list(results) -> list[Result]:
    values = results.values() if isinstance(results, Mapping) else results
    return [r for r in values if r is not None and r.run_kind == "solution"]


def all_flags(grades: Mapping[tuple[str, str], str], results) -> dict[tuple[str, str], list[Flag]]:
    """Flags for every graded (model, challenge) that has a result; pairs without flags are left out."""
    by_key = {(r.model, r.challenge): r for r in _results_list(results)}
    out = {}
    for key, grade in sorted(grades.items()):
        found = flags(grade, by_key.get(key))
        if found:
            out[key] = found
    return out


@dataclass(frozen=True)
class RankingRow:
    """One model's evidence: what the harness saw, never a grade."""

    model: str
    name: str
    solutions: int  # results counted (our gaps excluded)
    harness_errors: int  # results left out: our gap (harness error, no adapter, no GPU, missing dependency)
    traps_avoided: int
    traps_fell_in: int
    traps_unverified: int  # not run because the solution could not run or hung
    traps_not_expressible: int  # not run for other reasons (optional API missing): not counted
    trap_score: float | None  # avoided / (avoided + fell_in + unverified)
    conformance_pass_rate: float | None  # mean over solutions of passed / ran
    rank: int | None
    conformance_passed: int = 0  # conformance tests passed, summed over the counted solutions
    conformance_ran: int = 0  # conformance tests that ran (the denominator)


def _solution_pass_rate(result: Result) -> float | None:
    """Passed conformance tests over those that ran; 0 for a solution that could not run at all."""
    phase = _phase(result, "conformance")
    counts = dict(phase.counts) if phase is not None else {}
    if phase is not None and not counts and phase.tests:
        for t in phase.tests:
            if t.decides:
                counts[t.outcome] = counts.get(t.outcome, 0) + 1
    ran = sum(counts.get(k, 0) for k in ("passed", "failed", "error", "timeout"))
    if ran:
        return counts.get("passed", 0) / ran
    if result.status in ("not_runnable", "timeout", "failed"):
        return 0.0  # nothing could be shown to work
    return None


def _conformance_counts(result: Result) -> tuple[int, int]:
    """(passed, ran) conformance tests of one result (tests beyond the prompt excluded)."""
    phase = _phase(result, "conformance")
    if phase is None:
        return 0, 0
    counts = dict(phase.counts)
    if not any(k in counts for k in ("passed", "failed", "error", "timeout")):
        counts = {}
        for t in phase.tests:
            if t.decides:
                counts[t.outcome] = counts.get(t.outcome, 0) + 1
    return counts.get("passed", 0), sum(counts.get(k, 0) for k in ("passed", "failed", "error", "timeout"))


def evidence_ranking(results, models) -> list[RankingRow]:
    """Models ranked by evidence: trap score, then conformance pass rate, then id.

    results: Results (or a mapping whose values are Results; controls are ignored).
    models: model ids, or a mapping id -> object with a .name (solution.Model) or a name.
    Models without any counted result are listed last with rank None.
    """
    if isinstance(models, Mapping):
        names = {mid: (m if isinstance(m, str) else getattr(m, "name", mid)) for mid, m in models.items()}
    else:
        names = {mid: mid for mid in models}
    by_model: dict[str, list[Result]] = {mid: [] for mid in names}
    for r in _results_list(results):
        by_model.setdefault(r.model, []).append(r)
        names.setdefault(r.model, r.model)

    rows = []
    for mid, rs in by_model.items():
        counted = [r for r in rs if r.status != "harness_error" and not is_gap(r)]
        avoided = fell = unverified = inexpressible = passed = ran = 0
        rates = []
        for r in counted:
            # The solution's own inability to run counts against it; our gaps (needs_adapter,
            # missing_dependency, compiled_not_run, partial) are not counted at all.
            could_not_run = r.status in ("not_runnable", "timeout")
            for v in r.traps.values():
                if v.status == "avoided":
                    avoided += 1
                elif v.status == "fell_in":
                    fell += 1
                elif could_not_run and not trap_term(v).gap:
                    unverified += 1
                else:
                    inexpressible += 1  # our gap or an optional entry point: not counted
            rate = _solution_pass_rate(r)
            if rate is not None:
                rates.append(rate)
            p, n = _conformance_counts(r)
            passed, ran = passed + p, ran + n
        judged = avoided + fell + unverified
        rows.append(dict(
            model=mid, name=names[mid], solutions=len(counted), harness_errors=len(rs) - len(counted),
            traps_avoided=avoided, traps_fell_in=fell, traps_unverified=unverified,
            traps_not_expressible=inexpressible,
            trap_score=round(avoided / judged, 4) if judged else None,
            conformance_pass_rate=round(sum(rates) / len(rates), 4) if rates else None,
            conformance_passed=passed, conformance_ran=ran,
        ))

    def key(row):
        score, rate = row["trap_score"], row["conformance_pass_rate"]
        return (score is None and rate is None, -(score or 0.0), -(rate or 0.0), row["model"])

    rows.sort(key=key)
    out, rank, previous = [], 0, None
    for i, row in enumerate(rows, start=1):
        if row["trap_score"] is None and row["conformance_pass_rate"] is None:
            out.append(RankingRow(**row, rank=None))
            continue
        current = (row["trap_score"], row["conformance_pass_rate"])
        if current != previous:
            rank = i  # ties share a rank ("1, 1, 3")
        previous = current
        out.append(RankingRow(**row, rank=rank))
    return out
