"""The results format: one JSON file per solution, documented by these pydantic models.

`llmbench schema` prints the JSON Schema; the site publishes it next to the downloads.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# 2: statuses split our gaps (needs_adapter, missing_dependency, compiled_not_run) from the
# solution's behaviour, added partial; tests carry their Failure; traps their cause.
SCHEMA_VERSION = 2

Outcome = Literal["passed", "failed", "error", "timeout", "skipped", "not_run"]
Status = Literal["ok", "failed", "timeout", "partial", "compiled_not_run", "needs_adapter", "missing_dependency",
                 "not_runnable", "harness_error"]
PhaseStatus = Literal["ok", "failed", "timeout", "partial", "compiled_not_run", "needs_adapter", "missing_dependency",
                      "not_runnable", "not_run", "harness_error"]
TrapStatus = Literal["avoided", "fell_in", "not_run"]

# What each status means, for renderers (word, meaning) and the site's glossary. "Ours"
# statuses say nothing about the solution: never red, never a flag.
STATUS_MEANING: dict[str, tuple[str, str, str]] = {
    # status: (short word, whose evidence: "solution" | "ours" | "none", meaning)
    "ok": ("ok", "solution", "every phase that judges behaviour ran and nothing failed"),
    "failed": ("failed", "solution", "behavioural evidence of a defect: a trap fallen into, a failing test, "
                                     "or code that does not compile"),
    "timeout": ("timed out", "solution", "the solution ran past its time limit (measured by the harness)"),
    "partial": ("partial", "ours", "only some phases or entry points could run (the rest need an adapter, a "
                                   "dependency or a GPU); nothing that ran failed"),
    "compiled_not_run": ("compiled (not run: no GPU)", "ours", "the code compiled; nothing could run here"),
    "needs_adapter": ("needs an adapter", "ours", "the calling convention differs from the canonical API, or the "
                                                  "entry point is missing or ambiguous: an adapter must map it"),
    "missing_dependency": ("needs a dependency", "ours", "the solution imports a package (or tool) we do not "
                                                         "install"),
    "not_runnable": ("not runnable", "solution", "the solution's code could not be loaded or nothing of it could run "
                                                 "(e.g. it raises on import)"),
    "harness_error": ("unverified", "ours", "our harness or suite broke; the verdicts that depend on it are "
                                            "unverified"),
    "not_run": ("not run", "none", "this phase did not run (nothing to run, or not applicable)"),
}
RunKind = Literal["solution", "reference", "mutant", "cheat"]
# Conformance tests: "prompt" checks a rule the study's prompt states (or one that follows
# necessarily from it); "beyond" is stricter than the prompt and never decides a verdict.
Tier = Literal["prompt", "beyond"]


class TestRecord(BaseModel):
    """One test. failure: a llmbench.failures.Failure value when it did not pass; verified:
    the harness established that failure itself (not the solution's process); entry: the
    entry point whose call failed; calls: entry points the test called."""

    name: str
    outcome: Outcome
    failure: str = ""
    verified: bool = False
    entry: str = ""
    calls: list[str] = Field(default_factory=list)
    smoke: bool = False
    cases: dict[str, str] = Field(default_factory=dict)  # multi-case tests: case -> outcome (passed, raised: ...)
    duration_s: float = 0.0
    message: str = ""
    trap: str | None = None
    asserts: int | None = None  # own tests only: assertion statements/calls found by AST
    metrics: dict[str, float] = Field(default_factory=dict)
    inputs: str = ""  # how to reproduce (seeds, shapes), filled by conformance tests
    # conformance: what the test compared (llmbench.conformance.scale): comparisons, min_scale_ratio, ...
    scale: dict[str, float] = Field(default_factory=dict)
    tier: Tier | None = None  # conformance tests only; None in results written before tiers existed
    tier_note: str = ""  # prompt: the section of the study's prompt it checks; beyond: why it goes further

    @property
    def decides(self) -> bool:
        """Whether this record may decide traps, status and flags: every test but a "beyond" one."""
        return self.tier != "beyond"


class PhaseResult(BaseModel):
    name: str  # own_tests | conformance | compile | gpu | training
    status: PhaseStatus
    reason: str = ""
    counts: dict[str, int] = Field(default_factory=dict)  # outcome -> count, plus "asserts"; prompt tier only
    beyond_counts: dict[str, int] = Field(default_factory=dict)  # conformance: outcome -> count of "beyond" tests
    tests: list[TestRecord] = Field(default_factory=list)
    duration_s: float = 0.0
    log_tail: str = ""
    details: dict[str, object] = Field(default_factory=dict)  # phase-specific (e.g. compile errors)
    key: str = ""  # hash of exactly this phase's inputs (the components the phase names in Phase.inputs; llmbench.keys)
    # Set when this phase was not re-run but taken from an earlier result with the same key:
    # the date and commit of the run that measured it.
    reused_from: str = ""


class TrapVerdict(BaseModel):
    """fell_in only on behavioural evidence; not_run carries its cause (a Failure value such as
    protocol_mismatch or missing_dependency) and a reason a reader understands."""

    status: TrapStatus
    reason: str = ""
    cause: str = ""
    tests: list[str] = Field(default_factory=list)


class Metric(BaseModel):
    value: float
    unit: str = ""
    better: Literal["lower", "higher", "none"] = "none"
    test: str = ""
    self_reported: bool = False  # measured inside the solution's process: shown as such, never a verdict


class ReportedCandidate(BaseModel):
    """One mention of a metric in a solution's files."""

    value: float | str
    source: str = ""
    line: int | None = None
    context: str = ""  # what labels it: JSON key path, table row [column header], or the line


class Reported(BaseModel):
    """A figure the solution's own files (or the published study) claim; never reproduced by us."""

    value: float | str
    unit: str = ""
    source: str = ""
    line: int | None = None
    context: str = ""
    # Every mention, when they disagree (the chosen one included), best-labelled first.
    candidates: list[ReportedCandidate] = Field(default_factory=list)


class FileInfo(BaseModel):
    path: str
    bytes: int
    lines: int = 0
    binary: bool = False


class AdapterInfo(BaseModel):
    kind: Literal["none", "mapping", "wrapper", "no_adapter"] = "none"
    mapping: dict[str, str] = Field(default_factory=dict)
    harness: str = ""
    notes: str = ""
    no_adapter: str = ""  # kind no_adapter: why no thin adapter can map the solution


class Provenance(BaseModel):
    llmbench_version: str
    harness_version: str
    suite_version: str
    commit: str
    date: str
    python: str
    numpy: str
    blas_threads: int | None = None
    cpu: str = ""
    gpu: str = ""
    driver: str = ""
    nvcc: str = ""
    isolation: str = ""
    hostname_hash: str = ""


class Result(BaseModel):
    schema_version: int = SCHEMA_VERSION
    model: str
    challenge: str
    run_kind: RunKind = "solution"
    mutant_trap: str | None = None
    cheat: str | None = None  # run_kind "cheat": the cheat control's name (llmbench.cheats)
    status: Status
    reason: str = ""
    phases: dict[str, PhaseResult] = Field(default_factory=dict)
    traps: dict[str, TrapVerdict] = Field(default_factory=dict)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    reported: dict[str, Reported] = Field(default_factory=dict)
    loc: int = 0
    files: list[FileInfo] = Field(default_factory=list)
    adapter: AdapterInfo = Field(default_factory=AdapterInfo)
    provenance: Provenance
    key: str
    # The run's input components (solution files, adapter, suite, ...) as digests or values:
    # a later run compares them to say why it re-runs.
    inputs: dict[str, str] = Field(default_factory=dict)
    duration_s: float = 0.0
    # `llmbench run --repeat N`: the verdict of each of the N runs (llmbench.runner.verdict_signature);
    # entries that differ make this a flaky result.
    repeat_verdicts: list[str] = Field(default_factory=list)


def json_schema() -> dict:
    return Result.model_json_schema()
