"""The phases every Python kind runs: the solution's own tests, and our conformance suite."""
from __future__ import annotations

from ..keys import ADAPTER, ENVIRONMENT, HARNESS, ISOLATION, LIMITS, SOLUTION, SUITE, TOOLCHAIN
from ..schema import PhaseResult, TrapVerdict
from .base import Phase, PhaseOutcome, RunContext


class OwnTestsPhase(Phase):
    """The tests the model wrote, run with pytest (or as scripts) in the sandbox."""

    name = "own_tests"
    inputs = (HARNESS, SOLUTION, ISOLATION, ENVIRONMENT, TOOLCHAIN, LIMITS)
    limits = ("own_tests_timeout_s", "memory_mb")
    solutions_only = True

    def run(self, ctx: RunContext) -> PhaseOutcome:
        """Run the solution's own tests on a copy of it (see `llmbench.phases.own_tests`)."""
        from .own_tests import run_own_tests

        return PhaseOutcome(run_own_tests(ctx.source, ctx.sandbox, ctx.limits["own_tests_timeout_s"],
                                          int(ctx.limits["memory_mb"])))


class ConformancePhase(Phase):
    """Our adversarial suite, run by a trusted pytest against a sandboxed worker."""

    name = "conformance"
    inputs = (HARNESS, SOLUTION, ADAPTER, SUITE, ISOLATION, ENVIRONMENT, TOOLCHAIN, LIMITS)
    limits = ("call_timeout_s", "memory_mb", "conformance_timeout_s")
    decides_traps = True

    def needs_suite_server(self, run_kind: str, adapter) -> bool:
        """Every run but a solution's that has no adapter (`run` records our gap without running)."""
        return not (adapter.no_adapter and run_kind == "solution")

    def prepare(self, ctx: RunContext) -> None:
        """Wait until the challenge's suite server has collected the suite (`TrustedRuns.ready`)."""
        if ctx.trusted is not None and self.needs_suite_server(ctx.run_kind, ctx.adapter):
            ctx.trusted.ready(ctx.challenge)

    def run(self, ctx: RunContext) -> PhaseOutcome:
        """Run the suite; a solution without an adapter that it needs is our gap, not a verdict.

        A mutant runs only its trap's tests (and the smoke tests); a cheat runs the whole
        suite and stops at its first failing test (caught).
        """
        if ctx.adapter.no_adapter and ctx.run_kind == "solution":
            why = f"no adapter: {ctx.adapter.no_adapter}"
            traps = {t.id: TrapVerdict(status="not_run", reason=why, cause="protocol_mismatch")
                     for t in ctx.challenge.traps}
            return PhaseOutcome(PhaseResult(name=self.name, status="needs_adapter", reason=why), traps)
        from .conformance import run_conformance

        result, traps, metrics = run_conformance(
            ctx.challenge, ctx.source, ctx.adapter, ctx.sandbox.mode,
            only_trap=ctx.trap if ctx.run_kind == "mutant" else None, limits=ctx.limits,
            maxfail=1 if ctx.run_kind == "cheat" else None, trusted=ctx.trusted)
        return PhaseOutcome(result, traps, metrics)
