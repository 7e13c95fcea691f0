"""The phase contract: one signature for every phase of a run.

A phase gets a `RunContext` (what is being run, where, under which limits) and returns a
`PhaseOutcome` (the phase's record, plus trap verdicts and metrics when the phase decides
them). Which phases a challenge runs is its kind's business (`llmbench.kinds.Kind.phases`);
the runner only loops over them, reuses a phase whose key is unchanged, and stores the
outcome. A phase's key is a hash of exactly the input components it names in `inputs`
and the limits it names in `limits` (see `llmbench.keys`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..schema import Metric, PhaseResult, TrapVerdict

if TYPE_CHECKING:
    from ..challenge import Challenge
    from ..sandbox import Sandbox
    from ..solution import Adapter


@dataclass
class RunContext:
    """Everything a phase may read about the run it belongs to.

    Attributes:
        challenge: The challenge being run.
        source: The folder under test: the model's solution, or a control's patched copy of
            the reference. Phases never write into it (each works on its own copy).
        adapter: The adapter in effect (for a generic cheat: the cheat's wrapper).
        run_kind: ``solution``, ``reference``, ``mutant`` or ``cheat``.
        trap: The mutant's trap, or the cheat's name; None for solutions and the reference.
        sandbox: Where untrusted commands run.
        limits: The challenge's ``[limits]``, raised per solution by its adapter.
        device: Facts about the accelerator the kind uses (None: none here).
        stopping: Set when the run is interrupted: a phase should return promptly.
        trusted: The run's trusted pytest runs (`llmbench.phases.conformance.TrustedRuns`),
            for phases that start one; None: each starts a plain, untracked process.
    """

    challenge: "Challenge"
    source: Path
    adapter: "Adapter"
    run_kind: str
    trap: str | None
    sandbox: "Sandbox"
    limits: dict
    device: dict | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    trusted: object = None


@dataclass
class PhaseOutcome:
    """What a phase produced.

    Attributes:
        result: The phase's record (status, reason, counts, tests, log tail).
        traps: Trap verdicts, for the phase that decides them (conformance); else empty.
        metrics: Metrics measured by the phase; else empty.
    """

    result: PhaseResult
    traps: dict[str, TrapVerdict] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)


class Phase:
    """Base class of a phase. Subclasses set the class attributes and implement `run`.

    Attributes:
        name: The phase's name in results (``compile``, ``own_tests``, ``conformance``).
        inputs: The input components (`llmbench.keys.COMPONENTS`) its verdict depends on.
        limits: The ``[limits]`` keys it obeys (part of its key).
        solutions_only: True when controls (reference, mutants, cheats) skip it.
        decides_traps: True for the phase whose outcome carries trap verdicts and metrics.
        judges_behaviour: True when the phase running "ok" means the solution's behaviour
            was judged (a compile phase alone does not: "compiled, not run").
    """

    name: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    limits: ClassVar[tuple[str, ...]] = ()
    solutions_only: ClassVar[bool] = False
    decides_traps: ClassVar[bool] = False
    judges_behaviour: ClassVar[bool] = True

    def applies_to(self, run_kind: str) -> bool:
        """Whether a run of this kind (solution, reference, mutant, cheat) has this phase."""
        return run_kind == "solution" or not self.solutions_only

    def needs_suite_server(self, run_kind: str, adapter: "Adapter") -> bool:
        """Whether running it for this run starts a trusted run of the challenge's suite (then the
        run asks for the challenge's suite server ahead of need; see `TrustedRuns.prepare`)."""
        return False

    def prepare(self, ctx: RunContext) -> None:
        """Wait for what the phase needs before it runs (a process that is still starting), without
        holding one of the run's slots: another phase can use the machine meanwhile."""

    def run(self, ctx: RunContext) -> PhaseOutcome:
        """Run the phase.

        Args:
            ctx: The run's context.

        Returns:
            The phase's outcome. A phase never raises for anything the solution does; an
            exception here is a harness error (recorded as such, never as a verdict).
        """
        raise NotImplementedError
