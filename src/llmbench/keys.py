"""Result keys: content hashes of exactly what each phase's verdict depends on.

A run is described by named input components (solution files, adapter, suite, harness
version, isolation, environment, toolchain, limits). Each phase is keyed by the components
it reads: own tests never see the adapter or the suite, so an adapter edit re-runs
conformance only. The components are stored in the result, so a re-run can say which of
them changed.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import HARNESS_VERSION
from .solution import IGNORED_NAMES

SOLUTION, ADAPTER, SUITE = "solution files", "adapter", "suite"
HARNESS, ISOLATION, ENVIRONMENT, TOOLCHAIN, LIMITS = "harness version", "isolation", "environment", "toolchain", "limits"
COMPONENTS = (SOLUTION, ADAPTER, SUITE, HARNESS, ISOLATION, ENVIRONMENT, TOOLCHAIN, LIMITS)
# Each phase names the components it reads and the limits it obeys (`llmbench.phases.base.Phase`).
# The suite is the challenge folder without reference/, mutants/ and cheats/ (inputs of the
# controls, never read by the conformance tests).
NOT_SUITE = ("reference", "mutants", "cheats")


def hash_tree(h, folder: Path | None, label: str, skip: tuple[str, ...] = ()) -> None:
    """Feed a folder's files (sorted relative paths and bytes) into h; symlinks by target text.

    Top-level entries named in `skip` are left out.
    """
    h.update(f"\0tree:{label}\0".encode())
    if folder is None or not folder.exists():
        h.update(b"<none>")
        return
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part in IGNORED_NAMES for part in rel.parts) or rel.parts[0] in skip:
            continue
        if p.is_symlink():
            h.update(f"L {rel.as_posix()} -> {p.readlink()}\0".encode("utf-8", "surrogateescape"))
        elif p.is_file():
            h.update(f"F {rel.as_posix()} {p.stat().st_size}\0".encode("utf-8", "surrogateescape"))
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)


def tree_digest(folder: Path | None, label: str, skip: tuple[str, ...] = (), extra: bytes = b"") -> str:
    """A short digest (32 hex digits) of a folder's files, as `hash_tree` feeds them, plus `extra` bytes."""
    h = hashlib.sha256()
    hash_tree(h, folder, label, skip)
    h.update(extra)
    return h.hexdigest()[:32]


ADAPTER_KIT = Path(__file__).resolve().parent / "adapter_kit"


def adapter_kit_digest(adapter: Path | None) -> bytes:
    """The shared adapter glue (`llmbench.adapter_kit`) as part of an adapter that imports it:
    editing the kit re-runs the conformance of exactly those solutions."""
    if adapter is None or not adapter.is_dir():
        return b""
    uses = any("llmbench.adapter_kit" in p.read_text(encoding="utf-8", errors="replace")
               for p in sorted(adapter.glob("*.py")) if p.is_file() and not p.is_symlink())
    return tree_digest(ADAPTER_KIT, "adapter_kit").encode() if uses else b""


def input_components(solution: Path, adapter: Path | None, challenge: Path, env: dict, limits: dict,
                     patch: Path | None = None, trap: str | None = None, extra: str = "") -> dict[str, str]:
    """The named inputs of one run, each as a short digest or a plain value.

    `patch`/`trap`: a mutant (or cheat) control is the reference with one patch applied;
    `extra`: anything else that makes up the code under test (a generic cheat's wrapper).
    """
    more = f"\0run:{trap}\0{extra}\0".encode()
    if patch is not None:
        more += patch.read_bytes() if patch.is_file() else b"<none>"
    toolchain = {k: env[k] for k in ("gpu", "driver", "nvcc") if k in env}
    environment = {k: v for k, v in env.items() if k not in toolchain and k != "isolation"}
    return {
        HARNESS: str(HARNESS_VERSION),
        SOLUTION: tree_digest(solution, "solution", extra=more),
        ADAPTER: tree_digest(adapter, "adapter", extra=adapter_kit_digest(adapter)),
        SUITE: tree_digest(challenge, "challenge", skip=NOT_SUITE),
        ISOLATION: str(env.get("isolation", "")),
        ENVIRONMENT: json.dumps(environment, sort_keys=True),
        TOOLCHAIN: json.dumps(toolchain, sort_keys=True),
        LIMITS: json.dumps({k: float(v) for k, v in limits.items()}, sort_keys=True),
    }


def _phase_values(phase, inputs: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for name in phase.inputs:
        value = inputs.get(name, "")
        if name == LIMITS:
            try:
                all_limits = json.loads(value) if value else {}
            except ValueError:
                all_limits = {}
            value = json.dumps({k: all_limits.get(k) for k in phase.limits}, sort_keys=True)
        out.append((name, value))
    return out


def phase_key(phase, inputs: dict[str, str], run: str = "") -> str:
    """The key of one phase: a hash of the components it reads (and which run it is).

    Args:
        phase (Phase): A `llmbench.phases.base.Phase` (its name, inputs and limits).
        inputs: The run's components (`input_components`).
        run: Which run (``solution:``, ``mutant:<trap>``, ...).
    """
    h = hashlib.sha256(f"phase:{phase.name}\0run:{run}\0".encode())
    for name, value in _phase_values(phase, inputs):
        h.update(f"{name}={value}\0".encode())
    return h.hexdigest()


def result_key(phase_keys: dict[str, str], run: str = "") -> str:
    """The key of a whole result: its phases' keys. Equal keys = nothing to re-run."""
    h = hashlib.sha256(f"harness:{HARNESS_VERSION}\0run:{run}\0".encode())
    for phase in sorted(phase_keys):
        h.update(f"{phase}={phase_keys[phase]}\0".encode())
    return h.hexdigest()


def changed_components(phase, old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The components of `phase` whose values differ between two runs' inputs."""
    if not old:
        return []
    olds = dict(_phase_values(phase, old))
    return [name for name, value in _phase_values(phase, new) if olds.get(name) != value]
