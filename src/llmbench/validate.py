"""Suite validation: the reference avoids every trap, each mutant falls into its own, every cheat fails."""
from __future__ import annotations

from dataclasses import dataclass, field

from .challenge import Challenge
from .schema import Result


@dataclass
class Validation:
    """What ``llmbench validate`` found for one challenge: does its suite pass the reference and catch
    every mutant and cheat?

    Attributes:
        challenge: Challenge id.
        reference_ok: The reference passed (or compiled where nothing can run) and fell into no trap.
        reference_reason: Why not, when it did not.
        caught: Traps whose mutant the suite caught.
        missed: Traps whose mutant ran its trap's tests and passed them: a suite bug.
        not_run: Trap -> why its mutant could not be checked here.
        no_mutant: Traps with no mutant.
        compiled: Kinds with a compile phase: what compiled here.
        cheats_caught: Cheat -> the first test that failed it.
        cheats_missed: Cheats that passed the whole suite: a suite bug.
        cheats_not_run: Cheat -> why it could not be checked here.
        cheats_declared: How many cheat controls the challenge declares.
        scale_judged: Reference tests whose comparisons were recorded (`llmbench.conformance.scale`).
        scale_problems: Tests whose comparisons are not sane in scale.
    """
    challenge: str
    reference_ok: bool
    reference_reason: str = ""
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # mutant ran its trap's tests and passed them
    not_run: dict[str, str] = field(default_factory=dict)  # trap -> why it could not be checked here
    no_mutant: list[str] = field(default_factory=list)
    compiled: str = ""  # kinds with a compile phase: what compiled here
    cheats_caught: dict[str, str] = field(default_factory=dict)  # cheat -> the first test that failed it
    cheats_missed: list[str] = field(default_factory=list)  # cheat passed the whole suite: a suite bug
    cheats_not_run: dict[str, str] = field(default_factory=dict)  # cheat -> why it could not be checked here
    cheats_declared: int = 0
    scale_judged: int = 0  # reference tests whose comparisons were recorded (llmbench.conformance.scale)
    scale_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the suite is sound: the reference passes and no mutant, cheat or scale check slipped through."""
        return (self.reference_ok and not self.missed and not self.no_mutant and not self.cheats_missed
                and not self.scale_problems)

    def line(self) -> str:
        """One line summarising the validation, as ``llmbench validate`` prints it."""
        checked = len(self.caught) + len(self.missed)
        ref = ("reference ok" if self.reference_ok else f"reference FAILED ({self.reference_reason})")
        text = f"{self.challenge}: {ref}, traps caught {len(self.caught)}/{checked}"
        if self.missed:
            text += f" (missed: {', '.join(self.missed)})"
        if self.no_mutant:
            text += f" (no mutant: {', '.join(self.no_mutant)})"
        if self.not_run:
            reasons = sorted(set(self.not_run.values()))
            text += f" ({len(self.not_run)} not run: {'; '.join(r[:120] for r in reasons)})"
        cheats_checked = len(self.cheats_caught) + len(self.cheats_missed)
        text += f", cheats caught {len(self.cheats_caught)}/{cheats_checked}"
        if self.cheats_missed:
            text += f" (cheats PASSED the suite: {', '.join(self.cheats_missed)})"
        if self.cheats_not_run:
            reasons = sorted(set(self.cheats_not_run.values()))
            text += f" ({len(self.cheats_not_run)} not run: {'; '.join(r[:120] for r in reasons)})"
        if self.cheats_declared < MIN_CHEATS:
            text += (f" (only {self.cheats_declared} cheat controls declared; declare at least {MIN_CHEATS}: "
                     "see docs/contributing/challenges.md)")
        if self.compiled:
            text += f", {self.compiled}"
        if self.scale_judged or self.scale_problems:
            text += f", scale sane in {self.scale_judged - len(self.scale_problems)}/{self.scale_judged} tests"
        if self.scale_problems:
            text += f" (SCALE: {'; '.join(p[:200] for p in self.scale_problems)})"
        return text


MIN_CHEATS = 4


def cheat_verdict(result: Result) -> tuple[str, str]:
    """-> (caught | missed | not_run, why). Caught: a test failed on the cheat's behaviour."""
    if result.status == "harness_error":
        return "not_run", f"harness error: {result.reason}"
    comp = result.phases.get("compile")
    if comp is not None and comp.status != "ok":
        return ("missed", "does not compile") if comp.status == "failed" else ("not_run", comp.reason)
    conf = result.phases.get("conformance")
    if conf is None:
        return "not_run", "no conformance run"
    if conf.status == "timeout":
        return "caught", "the suite timed out on it"
    behavioural = [t for t in conf.tests if t.outcome in ("failed", "timeout") and t.decides]
    if conf.status == "failed" and behavioural:
        return "caught", behavioural[0].name
    # A cheat is built from the reference, so its calling convention is the canonical one: a
    # value of the wrong structure (a reported protocol mismatch) is the cheat being caught.
    structural = [t for t in conf.tests if t.failure == "protocol_mismatch" and not t.verified]
    if structural:
        return "caught", f"{structural[0].name} (wrong structure)"
    if conf.status == "ok":
        return "missed", "passed every test"
    return "not_run", conf.reason or conf.status


def validate_challenge(challenge: Challenge, controls: dict[str, Result]) -> Validation:
    """Judge a challenge's suite from its controls' results.

    Args:
        challenge: The challenge.
        controls: Its control results by name (``reference``, ``mutant-<trap>``, ``cheat-<name>``), as
            `llmbench.store.ResultStore.controls` gives them.

    Returns:
        What was caught, missed and not checked.
    """
    ref = controls.get("reference")
    if ref is None:
        return Validation(challenge.id, False, "no reference result")
    fell = [t for t, v in ref.traps.items() if v.status == "fell_in"]
    # Compiled but not run (no GPU) is our gap, not a broken reference: the compile line says
    # what compiled, and the traps are reported as not run.
    ref_ok = ref.status in ("ok", "compiled_not_run") and not fell
    reason = ref.reason if ref.status not in ("ok", "compiled_not_run") else f"fell into {', '.join(fell)}"
    v = Validation(challenge.id, ref_ok, "" if ref_ok else reason)
    for trap in challenge.traps:
        mutant = controls.get(f"mutant-{trap.id}")
        if mutant is None:
            if trap.id in challenge.mutant_patches():
                v.not_run[trap.id] = "mutant result missing"
            else:
                v.no_mutant.append(trap.id)
            continue
        ref_verdict = ref.traps.get(trap.id)
        verdict = mutant.traps.get(trap.id)
        if mutant.status == "harness_error":
            v.not_run[trap.id] = f"harness error: {mutant.reason}"
        elif verdict is None or verdict.status == "not_run":
            v.not_run[trap.id] = verdict.reason if verdict else "no verdict"
        elif ref_verdict is not None and ref_verdict.status == "not_run":
            v.not_run[trap.id] = f"reference could not be checked: {ref_verdict.reason}"
        elif verdict.status == "fell_in":
            v.caught.append(trap.id)
        else:
            v.missed.append(trap.id)
    from .conformance import scale  # here: the site imports this module for cheat_verdict, not the worker client

    conf = ref.phases.get("conformance")
    for test in conf.tests if conf is not None else []:
        if test.scale:
            v.scale_judged += 1
            v.scale_problems += scale.problems(test.name, test.scale)
            finding = scale.nondeterminism(test.name, test.scale)
            if finding:  # the reference must be deterministic where its entry points are declared so
                v.scale_problems.append(f"reference not deterministic: {finding}")
    v.cheats_declared = len(challenge.cheat_names)
    for name in challenge.cheat_names:
        result = controls.get(f"cheat-{name}")
        if result is None:
            v.cheats_not_run[name] = "cheat result missing"
            continue
        verdict, why = cheat_verdict(result)
        if verdict == "caught":
            v.cheats_caught[name] = why
        elif verdict == "missed":
            v.cheats_missed.append(name + (f" ({why})" if why != "passed every test" else ""))
        else:
            v.cheats_not_run[name] = why
    if "compile" in ref.phases:
        mutants = [r for k, r in controls.items() if k.startswith("mutant-")]
        cheat_runs = [r for k, r in controls.items() if k.startswith("cheat-")]
        ok = sum(1 for r in mutants if r.phases.get("compile") and r.phases["compile"].status == "ok")
        ref_ok = ref.phases["compile"].status == "ok"
        v.compiled = f"reference {'compiles' if ref_ok else 'does NOT compile'}, {ok}/{len(mutants)} mutants compile"
        if cheat_runs:
            ok_c = sum(1 for r in cheat_runs if r.phases.get("compile") and r.phases["compile"].status == "ok")
            v.compiled += f", {ok_c}/{len(cheat_runs)} cheats compile"
        if not ref_ok or ok < len(mutants):
            v.reference_ok = v.reference_ok and ref_ok
            v.missed += [k.removeprefix("mutant-") + " (does not compile)" for k, r in controls.items()
                         if k.startswith("mutant-") and r.phases.get("compile") and r.phases["compile"].status != "ok"]
    return v
