"""Suite validation: the reference avoids every trap, each mutant falls into its own."""
from __future__ import annotations

from dataclasses import dataclass, field

from .challenge import Challenge
from .schema import Result


@dataclass
class Validation:
    challenge: str
    reference_ok: bool
    reference_reason: str = ""
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # mutant ran its trap's tests and passed them
    not_run: dict[str, str] = field(default_factory=dict)  # trap -> why it could not be checked here
    no_mutant: list[str] = field(default_factory=list)
    compiled: str = ""  # kinds with a compile phase: what compiled here

    @property
    def ok(self) -> bool:
        return self.reference_ok and not self.missed and not self.no_mutant

    def line(self) -> str:
        checked = len(self.caught) + len(self.missed)
        ref = "reference ok" if self.reference_ok else f"reference FAILED ({self.reference_reason})"
        text = f"{self.challenge}: {ref}, traps caught {len(self.caught)}/{checked}"
        if self.compiled:
            text += f", {self.compiled}"
        if self.missed:
            text += f" (missed: {', '.join(self.missed)})"
        if self.no_mutant:
            text += f" (no mutant: {', '.join(self.no_mutant)})"
        if self.not_run:
            reasons = sorted(set(self.not_run.values()))
            text += f" ({len(self.not_run)} not run: {'; '.join(r[:120] for r in reasons)})"
        return text


def validate_challenge(challenge: Challenge, controls: dict[str, Result]) -> Validation:
    ref = controls.get("reference")
    if ref is None:
        return Validation(challenge.id, False, "no reference result")
    fell = [t for t, v in ref.traps.items() if v.status == "fell_in"]
    ref_ok = ref.status == "ok" and not fell
    reason = ref.reason if ref.status != "ok" else f"fell into {', '.join(fell)}"
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
    if "compile" in ref.phases:
        mutants = [r for k, r in controls.items() if k.startswith("mutant-")]
        ok = sum(1 for r in mutants if r.phases.get("compile") and r.phases["compile"].status == "ok")
        ref_ok = ref.phases["compile"].status == "ok"
        v.compiled = f"reference {'compiles' if ref_ok else 'does NOT compile'}, {ok}/{len(mutants)} mutants compile"
        if not ref_ok or ok < len(mutants):
            v.reference_ok = v.reference_ok and ref_ok
            v.missed += [k.removeprefix("mutant-") + " (does not compile)" for k, r in controls.items()
                         if k.startswith("mutant-") and r.phases.get("compile") and r.phases["compile"].status != "ok"]
    return v
