"""Models, their solutions (raw outputs, never edited) and maintainer-written adapters."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ContentError, positive_number, read_toml, skip_link, toml_present

REFERENCE = "_reference"  # pseudo model id of a challenge's reference run (controls)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*([.:][A-Za-z_][A-Za-z0-9_]*)+$")
MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Folders in a solution that are build debris, not the model's output.
IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".git", ".ipynb_checkpoints", ".DS_Store"}


def check_model_id(model: str, where: Path | str = "solutions/") -> str:
    if not MODEL_ID.match(model):
        raise ContentError(
            where,
            f"invalid model id '{model}': ids match [a-z0-9][a-z0-9._-]* (names starting with '_' are reserved)",
        )
    return model


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    provider: str = ""
    note: str = ""
    path: Path | None = None


def load_model(folder: Path) -> Model:
    check_model_id(folder.name, folder)
    path = folder / "model.toml"
    data: dict = {}
    if toml_present(path):
        data = read_toml(path)
        for key in ("name", "provider", "note"):
            if key in data and not isinstance(data[key], str):
                raise ContentError(path, f"'{key}' must be a string")
    return Model(folder.name, data.get("name", folder.name), data.get("provider", ""), data.get("note", ""), folder)


@dataclass(frozen=True)
class Adapter:
    """adapters/<model>/<challenge>/: adapter.toml (mapping, notes) and optional adapter.py/.cu."""

    path: Path | None
    mapping: dict[str, str] = field(default_factory=dict)
    harness: str = ""
    notes: str = ""
    dependencies: tuple[str, ...] = ()
    limits: dict = field(default_factory=dict)
    # Why no thin adapter can map this solution onto the canonical API (then nothing of the
    # conformance suite runs, and its traps are not_run with this reason).
    no_adapter: str = ""

    @property
    def kind(self) -> str:
        if self.path is None:
            return "none"
        if self.no_adapter:
            return "no_adapter"
        if any((self.path / n).exists() for n in ("adapter.py", "adapter.cu")):
            return "wrapper"
        return "mapping" if self.mapping else "none"


NO_ADAPTER = Adapter(None)


def load_adapter(folder: Path) -> Adapter:
    if skip_link(folder, "adapter folder") or not folder.is_dir():
        return NO_ADAPTER
    path = folder / "adapter.toml"
    data: dict = {}
    if toml_present(path):
        data = read_toml(path)
    mapping = data.get("entry_points", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ContentError(path, "[entry_points] must map canonical names to 'module.attribute' strings")
    for name, target in mapping.items():
        if "." not in target and ":" not in target:
            raise ContentError(path, f"entry point '{name}' = '{target}': write it as 'module.attribute'")
        # Both reach a command line (the worker's --map): nothing there may read as an option.
        if not IDENTIFIER.match(name):
            raise ContentError(path, f"[entry_points] key '{name}' must be the canonical entry point's name "
                                     "(a Python identifier)")
        if not TARGET.match(target):
            raise ContentError(path, f"entry point '{name}' = '{target}': write it as 'module.attribute' "
                                     "(dotted Python names, e.g. 'flash.attention')")
    deps = data.get("dependencies", [])
    if not isinstance(deps, list):
        raise ContentError(path, "'dependencies' must be a list of package names")
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise ContentError(path, "[limits] must be a table")
    no_adapter = data.get("no_adapter", "")
    if not isinstance(no_adapter, str) or ("no_adapter" in data and not no_adapter.strip()):
        raise ContentError(path, "'no_adapter' must say why no adapter can be written (a non-empty string)")
    if no_adapter and (mapping or any((folder / n).exists() for n in ("adapter.py", "adapter.cu"))):
        raise ContentError(path, "'no_adapter' is set but the folder also has an adapter; keep one of them")
    from .challenge import DEFAULT_LIMITS

    for key, value in limits.items():
        if key not in DEFAULT_LIMITS:
            raise ContentError(path, f"unknown limit '{key}'; valid: {', '.join(DEFAULT_LIMITS)}")
        positive_number(path, key, value)
    return Adapter(folder, dict(mapping), str(data.get("harness", "")), str(data.get("notes", "")), tuple(deps),
                   dict(limits), no_adapter.strip())


@dataclass(frozen=True)
class Solution:
    model: str
    challenge: str
    path: Path
    adapter: Adapter = NO_ADAPTER

    @property
    def label(self) -> str:
        return f"{self.model}/{self.challenge}"


def solution_files(folder: Path) -> list[Path]:
    """The solution's files, sorted, relative to folder; build debris and symlinks' targets excluded."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part in IGNORED_NAMES for part in rel.parts):
            continue
        if p.is_symlink() or p.is_file():
            out.append(rel)
    return out


def discover_models(solutions_dir: Path) -> dict[str, Model]:
    models = {}
    if not solutions_dir.is_dir():
        return models
    for folder in sorted(p for p in solutions_dir.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")) or skip_link(folder, "model folder"):
            continue
        models[folder.name] = load_model(folder)
    return models


def discover_solutions(solutions_dir: Path, adapters_dir: Path, challenges) -> list[Solution]:
    """Every solutions/<model>/<challenge>/ folder that holds an attempt.

    `challenges` maps ids to Challenge objects (or is a list of ids). A folder holding only
    PROMPT.md and unchanged copies of the prompt's data files (what new-model writes) is
    no attempt and is skipped.
    """
    from .scaffold import is_scaffold_only

    out = []
    by_id = challenges if isinstance(challenges, dict) else {cid: None for cid in challenges}
    for model in discover_models(solutions_dir).values():
        for cid, challenge in by_id.items():
            folder = model.path / cid
            if skip_link(folder, "solution folder") or not folder.is_dir() or is_scaffold_only(folder, challenge):
                continue
            out.append(Solution(model.id, cid, folder, load_adapter(adapters_dir / model.id / cid)))
    return out
