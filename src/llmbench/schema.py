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
    """One test of a phase (the solution's own tests, or the conformance suite) and how it ended."""

    name: str
    """The test's id (a pytest node id, or the own program's name)."""
    outcome: Outcome
    """How it ended."""
    failure: str = ""
    """When it did not pass: a `llmbench.failures.Failure` value saying why (a wrong result, a
    crash, a calling-convention mismatch, ...)."""
    verified: bool = False
    """The harness established the failure itself, not the solution's process."""
    entry: str = ""
    """The entry point whose call failed."""
    calls: list[str] = Field(default_factory=list)
    """Entry points the test called."""
    smoke: bool = False
    """A smoke test: it checks that an entry point can be called at all."""
    cases: dict[str, str] = Field(default_factory=dict)
    """Multi-case tests: case -> outcome (``passed``, ``raised: ...``)."""
    duration_s: float = 0.0
    """Wall time, measured by the harness."""
    message: str = ""
    """What went wrong, for a reader."""
    trap: str | None = None
    """The trap this test detects, if any."""
    asserts: int | None = None
    """Own tests only: assertion statements and calls found in the test's source (by AST)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Figures the test measured, by metric name."""
    inputs: str = ""
    """How to reproduce it (seeds, shapes); filled by conformance tests."""
    scale: dict[str, float] = Field(default_factory=dict)
    """Conformance: what the test compared (`llmbench.conformance.scale`): comparisons, min_scale_ratio, ..."""
    tier: Tier | None = None
    """Conformance tests only: ``prompt`` or ``beyond``; None in results written before tiers existed."""
    tier_note: str = ""
    """prompt: the section of the study's prompt the test checks; beyond: why it goes further."""

    @property
    def decides(self) -> bool:
        """Whether this record may decide traps, status and flags: every test but a "beyond" one."""
        return self.tier != "beyond"


class PhaseResult(BaseModel):
    """One phase of a run (own tests, conformance, compile, ...): its status and its tests."""

    name: str
    """The phase: ``own_tests``, ``conformance``, ``compile``, ``gpu``, ``training``."""
    status: PhaseStatus
    """The phase's verdict (see `STATUS_MEANING`)."""
    reason: str = ""
    """Why it has that status, for a reader."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Outcome -> count of tests, plus ``asserts``; prompt-tier tests only."""
    beyond_counts: dict[str, int] = Field(default_factory=dict)
    """Conformance: outcome -> count of "beyond" tests (stricter than the prompt; they decide nothing)."""
    tests: list[TestRecord] = Field(default_factory=list)
    """Every test that ran."""
    duration_s: float = 0.0
    """Wall time of the phase."""
    log_tail: str = ""
    """The last lines of the phase's output."""
    details: dict[str, object] = Field(default_factory=dict)
    """Phase-specific facts (e.g. compile errors)."""
    key: str = ""
    """Hash of exactly this phase's inputs: the components the phase names in ``Phase.inputs``
    (`llmbench.keys`)."""
    reused_from: str = ""
    """Set when this phase was not re-run but taken from an earlier result with the same key:
    the date and commit of the run that measured it."""


class TrapVerdict(BaseModel):
    """Whether a solution fell into one trap. ``fell_in`` only on behavioural evidence; ``not_run``
    carries its cause and a reason a reader understands."""

    status: TrapStatus
    """``avoided``, ``fell_in`` or ``not_run``."""
    reason: str = ""
    """Why, for a reader."""
    cause: str = ""
    """``not_run`` only: a `llmbench.failures.Failure` value such as protocol_mismatch or missing_dependency."""
    tests: list[str] = Field(default_factory=list)
    """The tests the verdict rests on."""


class Metric(BaseModel):
    """A figure measured by a conformance test."""

    value: float
    """The measured value."""
    unit: str = ""
    """Its unit."""
    better: Literal["lower", "higher", "none"] = "none"
    """Which way ranks better."""
    test: str = ""
    """The test that measured it."""
    self_reported: bool = False
    """Measured inside the solution's process: shown as such, never a verdict."""


class ReportedCandidate(BaseModel):
    """One mention of a metric in a solution's files."""

    value: float | str
    """The figure as written."""
    source: str = ""
    """The file it appears in."""
    line: int | None = None
    """Its line in that file."""
    context: str = ""
    """What labels it: JSON key path, table row [column header], or the line."""


class Reported(BaseModel):
    """A figure the solution's own files (or the published study) claim; never reproduced by us."""

    value: float | str
    """The figure chosen as the claim."""
    unit: str = ""
    """Its unit."""
    source: str = ""
    """The file (or publication) it comes from."""
    line: int | None = None
    """Its line in that file."""
    context: str = ""
    """What labels it there."""
    candidates: list[ReportedCandidate] = Field(default_factory=list)
    """Every mention, when they disagree (the chosen one included), best-labelled first."""


class FileInfo(BaseModel):
    """One file of the solution, as published on its page."""

    path: str
    """Path relative to the solution folder."""
    bytes: int
    """Size in bytes."""
    lines: int = 0
    """Number of lines (0 for binary files)."""
    binary: bool = False
    """Not text: listed, never shown."""


class AdapterInfo(BaseModel):
    """The adapter a run used to reach the canonical API (see `llmbench.solution.Adapter`)."""

    kind: Literal["none", "mapping", "wrapper", "no_adapter"] = "none"
    """``none``; ``mapping`` (names only); ``wrapper`` (adapter code); ``no_adapter`` (none can be written)."""
    mapping: dict[str, str] = Field(default_factory=dict)
    """Canonical entry point -> ``module.attribute`` in the solution."""
    harness: str = ""
    """The coding agent that produced the solution, as the study names it."""
    notes: str = ""
    """Why the adapter does what it does."""
    no_adapter: str = ""
    """Kind ``no_adapter``: why no thin adapter can map the solution."""


class Provenance(BaseModel):
    """Where and with what a result was measured."""

    llmbench_version: str
    """The llmbench package version."""
    harness_version: str
    """Version of the harness; a change re-runs every phase."""
    suite_version: str
    """The challenge's suite_version (challenge.toml)."""
    commit: str
    """The git commit of the repository the run used."""
    date: str
    """When it ran (UTC, ISO 8601)."""
    python: str
    """Python version."""
    numpy: str
    """NumPy version."""
    blas_threads: int | None = None
    """Threads the BLAS library may use, when known."""
    cpu: str = ""
    """CPU model."""
    gpu: str = ""
    """GPU model, when the kind uses one."""
    driver: str = ""
    """GPU driver version."""
    nvcc: str = ""
    """CUDA compiler version."""
    isolation: str = ""
    """How untrusted code was isolated (e.g. bubblewrap, or the weaker fallback)."""
    hostname_hash: str = ""
    """A short hash of the machine's host name: tells machines apart without naming them."""


class Result(BaseModel):
    """Everything one run measured: one file in results/ per solution (controls under results/_controls/)."""

    schema_version: int = SCHEMA_VERSION
    """Version of this format (`SCHEMA_VERSION`)."""
    model: str
    """Model id (`llmbench.solution.REFERENCE` for controls)."""
    challenge: str
    """Challenge id."""
    run_kind: RunKind = "solution"
    """A model's solution, or a control: the reference, a mutant or a cheat."""
    mutant_trap: str | None = None
    """run_kind ``mutant``: the trap the mutant falls into."""
    cheat: str | None = None
    """run_kind ``cheat``: the cheat control's name (`llmbench.cheats`)."""
    status: Status
    """The overall verdict (see `STATUS_MEANING`)."""
    reason: str = ""
    """Why, for a reader."""
    phases: dict[str, PhaseResult] = Field(default_factory=dict)
    """Each phase that ran, by name."""
    traps: dict[str, TrapVerdict] = Field(default_factory=dict)
    """The verdict on each trap, by trap id."""
    metrics: dict[str, Metric] = Field(default_factory=dict)
    """Figures the suite measured, by metric name."""
    reported: dict[str, Reported] = Field(default_factory=dict)
    """Figures the solution's own files claim, by metric name."""
    loc: int = 0
    """Lines of code in the solution: non-blank, non-comment lines of its code files."""
    files: list[FileInfo] = Field(default_factory=list)
    """The solution's files."""
    adapter: AdapterInfo = Field(default_factory=AdapterInfo)
    """The adapter the run used."""
    provenance: Provenance
    """Where and with what it ran."""
    key: str
    """Hash of the phases' keys (`llmbench.keys.result_key`): equal keys mean nothing to re-run."""
    inputs: dict[str, str] = Field(default_factory=dict)
    """The run's input components (solution files, adapter, suite, ...) as digests or values:
    a later run compares them to say why it re-runs."""
    duration_s: float = 0.0
    """Wall time of the whole run."""
    repeat_verdicts: list[str] = Field(default_factory=list)
    """``llmbench run --repeat N``: the verdict of each of the N runs (`llmbench.runner.verdict_signature`);
    entries that differ make this a flaky result."""


def json_schema() -> dict:
    """The JSON Schema of a result file (`Result`), as `llmbench schema` prints it."""
    return Result.model_json_schema()
