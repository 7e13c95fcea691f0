"""The site's one status vocabulary: every state a reader can meet, with its word, glyph and colour.

Pure data and pure functions, no disk: every renderer, the evidence rules and the
glossary page (docs: "Statuses") read this module, so a status looks the same wherever it
appears. A glyph stands for one *kind* of state (the solution did it right, the solution
did it wrong, our gap, nothing to show...); the word says which state exactly.

The central rule (GUIDE principle 3): whatever is the harness's or this machine's gap (no
adapter, no GPU, a dependency we do not install, a harness error, a check stricter than
the study's prompt) is grey, explained, never a flag and never counted in the evidence
ranking. Red is for what the solution did.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One glyph, one colour, one meaning; the legend shows one line per kind."""

    id: str  # css class suffix (lb-<id>) and glossary anchor (kind-<id>)
    glyph: str
    label: str  # the legend's words
    meaning: str


KINDS: dict[str, Kind] = {k.id: k for k in (
    Kind("ok", "✓", "passed", "the solution did what the check asks"),
    Kind("bad", "✗", "failed", "the solution did something wrong: behavioural evidence against it"),
    Kind("time", "◔", "timed out", "the solution ran past its time limit (measured from outside)"),
    Kind("gap", "◌", "our gap", "the harness or this machine could not judge it (no adapter, no GPU, a dependency "
                                "we do not install, a harness error, a check beyond the prompt); says nothing "
                                "about the solution"),
    Kind("none", "○", "nothing to show", "not run, not graded or not in this repository"),
    Kind("warn", "⚠", "needs attention", "ours to fix: a result out of date or unreadable, or a hole in our suite"),
    Kind("info", "ℹ", "note", "a note about what is shown"),
)}
FLAG = "⚑"
FLAG_MEANING = "a judge's grade that the evidence contradicts (rules on the methodology page)"


@dataclass(frozen=True)
class Term:
    """One state: the word a reader sees, its kind (glyph and colour) and whose doing it is."""

    id: str
    word: str
    kind: str  # a key of KINDS
    fault: bool | None  # True: the solution's doing; False: ours or this machine's; None: no evidence either way
    meaning: str

    @property
    def glyph(self) -> str:
        """The glyph of the term's kind."""
        return KINDS[self.kind].glyph

    @property
    def gap(self) -> bool:
        """True when the term is our gap: it says nothing about the solution."""
        return self.kind == "gap"


_TERMS = (
    # overall result and phase statuses (schema.Status, schema.PhaseStatus)
    Term("ok", "ok", "ok", None, "every phase that judges behaviour ran and nothing failed"),
    Term("failed", "failed", "bad", True, "behavioural evidence of a defect: a failing test, a trap fallen into, "
                                          "or code that does not compile"),
    Term("timeout", "timed out", "time", True, "the solution ran past its time limit"),
    Term("not_runnable", "does not load", "bad", True,
         "the solution's own code could not be loaded (for instance it raises on import)"),
    Term("partial", "partly checked", "gap", False,
         "only some phases or entry points could run here; nothing that ran failed"),
    Term("compiled_not_run", "compiled, not run (no GPU)", "gap", False,
         "the code compiled; running it needs a GPU this machine lacks"),
    Term("needs_adapter", "needs an adapter", "gap", False,
         "the solution's calling convention differs from the canonical API, or its entry point is missing or "
         "ambiguous: a maintainer must map it in adapters/"),
    Term("missing_dependency", "needs a dependency", "gap", False,
         "the solution imports a package or tool that llmbench does not install here"),
    Term("no_gpu", "no GPU here", "gap", False, "the check needs an NVIDIA GPU this machine lacks"),
    Term("harness_error", "harness error", "gap", False,
         "our harness or suite broke; the verdicts that depend on it are unverified"),
    Term("beyond_prompt", "beyond the prompt", "gap", False,
         "a check stricter than the study's prompt: shown for information, never decides a verdict"),
    Term("not_run", "not run", "none", None, "this phase or test did not run (nothing to run, or not applicable)"),
    # test outcomes (schema.Outcome) and trap verdicts (schema.TrapStatus)
    Term("passed", "passed", "ok", None, "the test passed"),
    Term("error", "error", "bad", True, "the test errored in the solution's code"),
    Term("skipped", "skipped", "none", None, "the test was skipped (its reason is shown)"),
    Term("avoided", "avoided", "ok", None, "every test of the trap passed"),
    Term("fell_in", "fell in", "bad", True, "a test of the trap failed on valid inputs: the solution has the bug"),
    Term("not_judged", "not judged", "none", None, "the trap's tests could not run (the reason is shown)"),
    Term("compiles", "compiles", "ok", None, "the compile phase succeeded"),
    # cells without a usable result
    Term("stale", "stale", "warn", False, "measured with an older suite version; re-run `llmbench run`"),
    Term("unreadable", "result unreadable", "warn", False, "the result file could not be read"),
    Term("missing", "no result yet", "none", None, "the solution is here but has not been run"),
    Term("absent", "not in this repository", "none", None, "graded in the study; its code is not imported here"),
    Term("unattempted", "not graded", "none", None, "no grade and no solution"),
    Term("not_measured", "not measured", "none", None, "the run produced no value for this metric"),
)
TERMS: dict[str, Term] = {t.id: t for t in _TERMS}

# Statuses whose word is the trap verdict's when shown for a trap.
TRAP_TERM = {"avoided": "avoided", "fell_in": "fell_in", "not_run": "not_judged"}
OUTCOME_TERM = {"passed": "passed", "failed": "failed", "error": "error", "timeout": "timeout",
                "skipped": "skipped", "not_run": "not_run"}

# Reasons of results written before statuses said whose gap it was (schema version 1):
# read as our gap. Each names a cause a maintainer fixes, not something the solution did.
_GAP_REASONS = (
    ("needs_adapter", re.compile(r"entry point .*not found|map it in adapters|needs an adapter|calling convention|"
                                 r"ambiguous entry point|protocol mismatch", re.I)),
    ("missing_dependency", re.compile(r"missing dependency|no module named|needs a dependency|not installed",
                                      re.I)),
    ("no_gpu", re.compile(r"no cuda device|no gpu|nvidia-smi|nvcc not found|needs a gpu", re.I)),
)


def term(term_id: str) -> Term:
    """The Term of an id; an unknown status (a newer result format) reads as an unexplained gap."""
    found = TERMS.get(term_id)
    if found is not None:
        return found
    return Term(term_id, term_id.replace("_", " "), "gap", False, "a state this version of the site does not know")


def gap_of_reason(reason: str) -> str | None:
    """The gap term id a legacy reason describes ("missing dependency mlx" -> missing_dependency), or None."""
    for tid, pattern in _GAP_REASONS:
        if pattern.search(reason or ""):
            return tid
    return None


def status_term(status: str, reason: str = "") -> Term:
    """The Term of a result's or phase's status, reading legacy not_runnable/failed reasons that name our gap."""
    if status in ("not_runnable", "failed"):
        gap = gap_of_reason(reason)
        if gap is not None:
            return TERMS[gap]
    return term(status)


def result_term(result) -> Term:
    """The Term of a schema.Result's overall status."""
    return status_term(result.status, result.reason)


def is_gap(result) -> bool:
    """True when the result says nothing about the solution: the gap is ours or this machine's."""
    return result_term(result).gap


def trap_term(verdict) -> Term:
    """The Term of a trap verdict; a not_run verdict whose cause is our gap reads as that gap."""
    if verdict.status == "not_run":
        cause = getattr(verdict, "cause", "") or ""
        gap = {"protocol_mismatch": "needs_adapter", "entry_missing": "needs_adapter",
               "ambiguous_entry": "needs_adapter", "missing_dependency": "missing_dependency", "no_gpu": "no_gpu",
               "harness_error": "harness_error"}.get(cause) or gap_of_reason(verdict.reason)
        if gap:
            return TERMS[gap]
    return term(TRAP_TERM.get(verdict.status, verdict.status))


def outcome_term(test) -> Term:
    """The Term of a test record: a failing test beyond the prompt, or failing for our gap, is grey."""
    if getattr(test, "tier", None) == "beyond" and test.outcome != "passed":
        return TERMS["beyond_prompt"]
    if test.outcome in ("failed", "error"):
        failure = getattr(test, "failure", "") or ""
        gap = {"protocol_mismatch": "needs_adapter", "entry_missing": "needs_adapter",
               "ambiguous_entry": "needs_adapter", "missing_dependency": "missing_dependency", "no_gpu": "no_gpu",
               "harness_error": "harness_error"}.get(failure)
        if gap:
            return TERMS[gap]
    return term(OUTCOME_TERM.get(test.outcome, test.outcome))


def kinds_in(text: str) -> list[Kind]:
    """The kinds whose glyph occurs in text (for a page's legend), in legend order."""
    return [k for k in KINDS.values() if k.glyph in text]


_MACHINE_PATH = re.compile(
    r"(?<![\w.])(?:/(?:work|tmp|home|root|var/tmp|builds|runner|github/workspace|private/var|Users)"
    r"(?:/[^\s/:'\"()<>,;]+)*)/(?P<tail>[^\s/:'\"()<>,;]+)")


def strip_machine_paths(text: str, roots: tuple[str, ...] = ()) -> str:
    """text without the harness machine's own folders: "/work/wt/x/.venv/lib/foo.py" -> "…/foo.py".

    roots: folders of this build (the repository) shown relative to it ("solutions/m/c/x.py").
    """
    for root in sorted((r.rstrip("/") for r in roots if r and r != "/"), key=len, reverse=True):
        text = text.replace(root + "/", "")
    return _MACHINE_PATH.sub(lambda m: "…/" + m.group("tail"), text)
