"""The kind contract: what a challenge kind decides for every run of its challenges."""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ..phases.base import Phase


class Kind:
    """Base class of a challenge kind (``kind = "..."`` in challenge.toml).

    A kind decides which phases run, what the sandboxed worker needs to reach a solution's
    entry points, and which facts about the machine enter a result's key. Nothing outside
    `llmbench.kinds` tests a kind's name: the runner, the worker, provenance and the
    conformance client ask the kind. Register a subclass with `llmbench.kinds.register_kind`.

    Attributes:
        name: The word in challenge.toml.
        phases: The phases, in the order they run (and are recorded).
        concurrent_phases: True when the phases share nothing (each works on its own copy,
            none reads another's outcome) and compete for no device: a run then starts
            them together, and a long phase (a model's own 150 s test) no longer delays
            the others. False keeps them in order (a GPU's timings must not be shared).
        uses_device: True when runs need an accelerator bound into the sandbox.
        caps_worker_memory: False when an address-space cap breaks the worker (a GPU
            driver reserves huge virtual ranges); memory is then not capped by rlimit.
        native_loader: ``"module:function"`` the worker calls to load entry points from
            compiled code, as ``function(solution_dir, adapter_dir, support_dir, options)``
            returning ``{entry: callable}``; None: entry points are found in Python modules.
        scaffold_note: Shown after the challenge in ``llmbench new-model``'s list.
    """

    name: ClassVar[str] = ""
    phases: ClassVar[tuple[Phase, ...]] = ()
    concurrent_phases: ClassVar[bool] = False
    uses_device: ClassVar[bool] = False
    caps_worker_memory: ClassVar[bool] = True
    native_loader: ClassVar[str | None] = None
    scaffold_note: ClassVar[str] = ""

    def phase(self, name: str) -> Phase:
        """The phase called `name`.

        Raises:
            KeyError: The kind has no such phase.
        """
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(f"kind {self.name} has no phase {name}")

    def phases_for(self, run_kind: str) -> list[Phase]:
        """The phases a run of this kind (solution, reference, mutant, cheat) has."""
        return [p for p in self.phases if p.applies_to(run_kind)]

    def device(self) -> dict | None:
        """Facts about the accelerator runs use (name, driver, ...), or None when there is none."""
        return None

    def environment_facts(self) -> dict[str, str]:
        """Machine facts that can change this kind's outcomes: part of every result key and of
        the provenance. Toolchain facts use the keys ``gpu``, ``driver`` and ``nvcc``."""
        return {}

    def check_options(self, options: dict, challenge_dir: Path) -> str | None:
        """Validate the kind's own table in challenge.toml (``[<kind name>]``).

        Args:
            options: The table (empty when absent).
            challenge_dir: The challenge's folder, for options that name files.

        Returns:
            None when valid, else a message naming the key and what to write.
        """
        return f"unknown table [{self.name}]: this kind takes no options" if options else None

    def worker_support_files(self, options: dict) -> list[str]:
        """Files of the challenge folder (besides support.py) the worker needs, relative names."""
        return []

    def worker_fields(self, options: dict) -> dict:
        """What the conformance worker needs from this kind, as `WorkerConfig` fields.

        Args:
            options: The challenge's kind table (``challenge.kind_options``).
        """
        return {"native": self.native_loader, "native_options": dict(options),
                "support_files": tuple(self.worker_support_files(options)) if self.native_loader else (),
                "caps_memory": self.caps_worker_memory}
