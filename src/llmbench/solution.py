"""Models, their solutions (raw outputs, never edited) and maintainer-written adapters."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .challenge import check_limits
from .errors import ContentError, read_toml, skip_link, toml_present
from .files import IGNORED_NAMES, solution_files  # noqa: F401 - part of this module's API
from .prompt_copies import is_scaffold_only

REFERENCE = "_reference"  # pseudo model id of a challenge's reference run (controls)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*([.:][A-Za-z_][A-Za-z0-9_]*)+$")
MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def check_model_id(model: str, where: Path | str = "solutions/") -> str:
    """Check a model id (the folder name under solutions/).

    Args:
        model: The id to check.
        where: The file or folder named in the error.

    Returns:
        The id, unchanged.

    Raises:
        ContentError: The id does not match ``[a-z0-9][a-z0-9._-]*``; ids starting with ``_`` are reserved.
    """
    if not MODEL_ID.match(model):
        raise ContentError(
            where,
            f"invalid model id '{model}': ids match [a-z0-9][a-z0-9._-]* (names starting with '_' are reserved)",
        )
    return model


@dataclass(frozen=True)
class Model:
    """A model whose outputs are studied: solutions/<model>/, described by an optional model.toml.

    Attributes:
        id: The folder name.
        name: Display name (defaults to the id).
        provider: Who serves the model.
        note: Free-form note shown on the model's page.
        path: The model's folder under solutions/.
    """
    id: str
    name: str
    provider: str = ""
    note: str = ""
    path: Path | None = None


def load_model(folder: Path) -> Model:
    """Read solutions/<model>/ and its optional model.toml.

    Raises:
        ContentError: Invalid model id, or a model.toml key that is not a string.
    """
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
    """adapters/<model>/<challenge>/: adapter.toml (mapping, notes) and optional adapter.py/.cu.

    Attributes:
        path: The adapter folder, None when there is none.
        mapping: Canonical entry point name -> ``module.attribute`` in the solution.
        harness: The coding agent that produced the solution, as the study names it.
        notes: Why the adapter does what it does, shown on the site.
        dependencies: Packages the solution needs that we do not install.
        limits: Limits raised for this solution (``[limits]``).
        no_adapter: Why no thin adapter can map the solution; then no conformance test runs.
        not_offered: Feature -> why the solution does not offer it; its tests skip.
    """

    path: Path | None
    mapping: dict[str, str] = field(default_factory=dict)
    harness: str = ""
    notes: str = ""
    dependencies: tuple[str, ...] = ()
    limits: dict = field(default_factory=dict)
    # Why no thin adapter can map this solution onto the canonical API (then nothing of the
    # conformance suite runs, and its traps are not_run with this reason).
    no_adapter: str = ""
    # [not_offered] feature = "why": features of the prompt the solution does not offer (their
    # tests skip; their traps are not_run with this reason)
    not_offered: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """How the solution meets the canonical API.

        Returns:
            ``"none"`` (no adapter folder or nothing in it), ``"no_adapter"`` (none can be written),
            ``"wrapper"`` (an adapter.py or adapter.cu) or ``"mapping"`` (names only).
        """
        if self.path is None:
            return "none"
        if self.no_adapter:
            return "no_adapter"
        if any((self.path / n).exists() for n in ("adapter.py", "adapter.cu")):
            return "wrapper"
        return "mapping" if self.mapping else "none"


NO_ADAPTER = Adapter(None)


def load_adapter(folder: Path) -> Adapter:
    """Read and validate adapters/<model>/<challenge>/.

    Args:
        folder: The adapter folder; a missing folder (or a symlink) means no adapter.

    Returns:
        The adapter, or `NO_ADAPTER`.

    Raises:
        ContentError: adapter.toml is invalid; the message names the key and what to write instead.
    """
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
    no_adapter = data.get("no_adapter", "")
    if not isinstance(no_adapter, str) or ("no_adapter" in data and not no_adapter.strip()):
        raise ContentError(path, "'no_adapter' must say why no adapter can be written (a non-empty string)")
    if no_adapter and (mapping or any((folder / n).exists() for n in ("adapter.py", "adapter.cu"))):
        raise ContentError(path, "'no_adapter' is set but the folder also has an adapter; keep one of them")
    limits = check_limits(path, data.get("limits", {}))
    not_offered = data.get("not_offered", {})
    if not isinstance(not_offered, dict) or not all(isinstance(v, str) and v.strip() for v in not_offered.values()):
        raise ContentError(path, "[not_offered] must map a feature to why the solution does not offer it "
                                 "(a non-empty string)")
    return Adapter(folder, dict(mapping), str(data.get("harness", "")), str(data.get("notes", "")), tuple(deps),
                   dict(limits), no_adapter.strip(), dict(not_offered))


@dataclass(frozen=True)
class Solution:
    """One model's attempt at one challenge: solutions/<model>/<challenge>/ and its adapter.

    Attributes:
        model: The model id.
        challenge: The challenge id.
        path: The solution folder (the model's raw output, never edited).
        adapter: Glue onto the canonical API, `NO_ADAPTER` when there is none.
    """
    model: str
    challenge: str
    path: Path
    adapter: Adapter = NO_ADAPTER

    @property
    def label(self) -> str:
        """``<model>/<challenge>``, the solution's name in messages and on the site."""
        return f"{self.model}/{self.challenge}"


def discover_models(solutions_dir: Path) -> dict[str, Model]:
    """Every model folder under solutions/, by id, sorted; folders starting with ``.`` or ``_`` are skipped.

    Raises:
        ContentError: An invalid model id or model.toml.
    """
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
    out = []
    by_id = challenges if isinstance(challenges, dict) else {cid: None for cid in challenges}
    for model in discover_models(solutions_dir).values():
        for cid, challenge in by_id.items():
            folder = model.path / cid
            if skip_link(folder, "solution folder") or not folder.is_dir() or is_scaffold_only(folder, challenge):
                continue
            out.append(Solution(model.id, cid, folder, load_adapter(adapters_dir / model.id / cid)))
    return out
