"""Challenges: one folder each under challenges/, described by challenge.toml."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ContentError, positive_number, read_toml, skip_link, toml_present

TRAP_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_LIMITS = {
    "call_timeout_s": 60.0,
    "memory_mb": 4096,
    "own_tests_timeout_s": 300.0,
    "conformance_timeout_s": 600.0,
}


@dataclass(frozen=True)
class EntryPoint:
    """One function of the canonical API a solution must (or may) provide, from ``[[entry_points]]``.

    Attributes:
        name: The function's name, a Python identifier.
        signature: Its signature as the prompt states it, shown on the site.
        description: What it computes, shown on the site.
        required: False when a solution may omit it without failing.
        deterministic: True when the same inputs must give identical outputs; the suite then
            calls it twice on the first call of each test.
    """
    name: str
    signature: str = ""
    description: str = ""
    required: bool = True
    # the same inputs must give identical outputs: the suite calls it twice (first call of each test)
    deterministic: bool = False


@dataclass(frozen=True)
class Trap:
    """A known way to get the challenge wrong, from ``[[traps]]``; each has one mutant of the reference.

    Attributes:
        id: Stable identifier (``[a-z0-9_]``), the mutant's file stem and the suite's marker.
        title: One-line name shown on the site.
        description: What falling into it means.
        detection: How the conformance suite detects it.
    """
    id: str
    title: str
    description: str = ""
    detection: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """A figure the conformance suite measures, from ``[[metrics]]``.

    Attributes:
        name: Key under which results store it.
        unit: Unit shown beside values.
        better: ``"lower"``, ``"higher"`` or ``"none"``: which way tables rank it.
        description: What it measures.
    """
    name: str
    unit: str = ""
    better: str = "none"
    description: str = ""


@dataclass(frozen=True)
class Challenge:
    """One challenge folder under challenges/, validated from its challenge.toml by `load_challenge`.

    Attributes:
        id: The folder name.
        path: The challenge folder.
        title: Display title.
        difficulty: Free-form difficulty label.
        kind: Name of the registered kind that runs its solutions (see `llmbench.kinds`).
        summary: One-paragraph description.
        suite_version: Version label of the conformance suite, recorded in each result's provenance.
        entry_points: The canonical API.
        traps: Known pitfalls, each detected by the suite.
        metrics: Figures the suite measures.
        limits: Resource limits (`DEFAULT_LIMITS` overridden by ``[limits]``).
        reported_aliases: Metric name -> other names a solution's own files may use for it
            (see `llmbench.reported`).
        generic_cheats: Generic cheat controls applied to the reference (`llmbench.cheats`).
        kind_options: The kind's own ``[<kind>]`` table, checked by the kind.
        prompt_files: Data files the prompt needs, relative to the folder.
    """
    id: str
    path: Path
    title: str
    difficulty: str
    kind: str
    summary: str
    suite_version: str
    entry_points: tuple[EntryPoint, ...]
    traps: tuple[Trap, ...]
    metrics: tuple[MetricSpec, ...]
    limits: dict = field(default_factory=dict)
    # metric -> other names a solution's own files may use for it (see llmbench.reported)
    reported_aliases: dict = field(default_factory=dict)
    # generic cheat controls applied to the reference (llmbench.cheats); [cheats] generic = [...]
    generic_cheats: tuple[str, ...] = ()
    # the kind's own table in challenge.toml ([<kind>]), checked by the kind
    kind_options: dict = field(default_factory=dict)
    # prompt_files = [...]: data files the prompt needs (checked against the folder by llmbench.scaffold)
    prompt_files: tuple[str, ...] = ()

    @property
    def kind_impl(self):
        """The registered `llmbench.kinds.Kind` this challenge's kind names."""
        from .kinds import kind_for

        return kind_for(self.kind)

    @property
    def prompt_path(self) -> Path:
        """The challenge's own PROMPT.md."""
        return self.path / "PROMPT.md"

    @property
    def prompt(self) -> str:
        """Text of PROMPT.md, or ``""`` when the challenge has none."""
        p = self.prompt_path
        return p.read_text(encoding="utf-8") if p.exists() else ""

    @property
    def conformance_dir(self) -> Path:
        """Folder of the adversarial conformance suite."""
        return self.path / "conformance"

    @property
    def reference_dir(self) -> Path:
        """Folder of the reference solution."""
        return self.path / "reference"

    @property
    def mutants_dir(self) -> Path:
        """Folder of the trap mutants, one ``<trap id>.patch`` each."""
        return self.path / "mutants"

    def trap(self, trap_id: str) -> Trap:
        """The trap with this id.

        Raises:
            KeyError: No trap has this id.
        """
        for t in self.traps:
            if t.id == trap_id:
                return t
        raise KeyError(trap_id)

    @property
    def trap_ids(self) -> list[str]:
        """Ids of the challenge's traps, in challenge.toml order."""
        return [t.id for t in self.traps]

    def metric(self, name: str) -> MetricSpec | None:
        """The metric with this name, or None."""
        return next((m for m in self.metrics if m.name == name), None)

    def mutant_patches(self) -> dict[str, Path]:
        """Mutant patches by trap id (the file stem); empty when there is no mutants/ folder."""
        if not self.mutants_dir.is_dir():
            return {}
        return {p.stem: p for p in sorted(self.mutants_dir.glob("*.patch"))}

    @property
    def cheats_dir(self) -> Path:
        """Folder of specific cheats (see `cheat_patches`)."""
        return self.path / "cheats"

    def cheat_patches(self) -> dict[str, Path]:
        """Specific cheats: cheats/<name>.patch, the reference taking a forbidden shortcut."""
        if not self.cheats_dir.is_dir():
            return {}
        return {p.stem: p for p in sorted(self.cheats_dir.glob("*.patch"))}

    @property
    def cheat_names(self) -> list[str]:
        """All cheat controls run against the suite: the generic ones first, then the specific patches."""
        return [*self.generic_cheats, *(n for n in self.cheat_patches() if n not in self.generic_cheats)]


def check_limits(path: Path, table) -> dict:
    """A ``[limits]`` table (challenge.toml, or an adapter.toml raising limits for its solution).

    Returns:
        The limits given, each a positive finite number.

    Raises:
        ContentError: Not a table, an unknown limit, or a value that is not a positive number.
    """
    if not isinstance(table, dict):
        raise ContentError(path, "[limits] must be a table")
    for key, value in table.items():
        if key not in DEFAULT_LIMITS:
            raise ContentError(path, f"unknown limit '{key}'; valid: {', '.join(DEFAULT_LIMITS)}")
    return {key: positive_number(path, key, value) for key, value in table.items()}


def _need(data: dict, key: str, path: Path, kind=str):
    if key not in data:
        raise ContentError(path, f"missing required key '{key}'; add it (see docs/contributing/challenges.md)")
    value = data[key]
    if not isinstance(value, kind):
        raise ContentError(path, f"'{key}' must be a {kind.__name__}, got {type(value).__name__}")
    return value


def load_challenge(folder: Path) -> Challenge:
    """Read and validate one challenge folder.

    Args:
        folder: A folder under challenges/ holding challenge.toml.

    Returns:
        The validated challenge, with `DEFAULT_LIMITS` filled in.

    Raises:
        ContentError: challenge.toml is missing or invalid; the message names the key and what to fix.
    """
    path = folder / "challenge.toml"
    if not toml_present(path) and not path.is_symlink():
        raise ContentError(path, "challenge.toml is missing; every folder in challenges/ needs one")
    data = read_toml(path)
    cid = _need(data, "id", path)
    if cid != folder.name:
        raise ContentError(path, f"id '{cid}' must equal the folder name '{folder.name}'")
    kind = _need(data, "kind", path)
    from .kinds import kind_for, kind_names  # the registry imports the phases, which import this module

    if kind not in kind_names():
        raise ContentError(path, f"unknown kind '{kind}'; valid kinds: {', '.join(kind_names())}")
    kind_options = data.get(kind, {})
    if not isinstance(kind_options, dict):
        raise ContentError(path, f"[{kind}] must be a table")
    problem = kind_for(kind).check_options(kind_options, folder)
    if problem:
        raise ContentError(path, problem)

    def table_list(key: str) -> list[dict]:
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ContentError(path, f"'{key}' must be an array of tables ([[{key}]])")
        return items

    entry_points = []
    for item in table_list("entry_points"):
        if any(e.name == item.get("name") for e in entry_points):
            raise ContentError(path, f"duplicate entry point '{item.get('name')}'; entry point names must be unique")
        if not IDENTIFIER.match(str(item.get("name", "x"))):
            raise ContentError(path, f"entry point name '{item.get('name')}' must be a Python identifier")
        entry_points.append(
            EntryPoint(
                name=_need(item, "name", path),
                signature=item.get("signature", ""),
                description=item.get("description", ""),
                required=bool(item.get("required", True)),
                deterministic=bool(item.get("deterministic", False)),
            )
        )
    traps, seen = [], set()
    for item in table_list("traps"):
        tid = _need(item, "id", path)
        if not TRAP_ID.match(tid):
            raise ContentError(path, f"trap id '{tid}' must match [a-z0-9][a-z0-9_]*")
        if tid in seen:
            raise ContentError(path, f"duplicate trap id '{tid}'; trap ids must be unique")
        seen.add(tid)
        traps.append(Trap(tid, _need(item, "title", path), item.get("description", ""), item.get("detection", "")))
    metrics, seen_m = [], set()
    for item in table_list("metrics"):
        name = _need(item, "name", path)
        if name in seen_m:
            raise ContentError(path, f"duplicate metric '{name}'")
        seen_m.add(name)
        better = item.get("better", "none")
        if better not in ("lower", "higher", "none"):
            raise ContentError(path, f"metric '{name}': better must be lower, higher or none")
        metrics.append(MetricSpec(name, item.get("unit", ""), better, item.get("description", "")))
    limits = {**DEFAULT_LIMITS, **check_limits(path, data.get("limits", {}))}
    listed = data.get("prompt_files", [])
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise ContentError(path, "'prompt_files' must be a list of paths relative to the challenge folder")
    reported = data.get("reported", {})
    if not isinstance(reported, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in reported.values()):
        raise ContentError(path, "[reported] must map a metric name to a list of names solutions use for it")
    from .cheats import GENERIC

    cheats = data.get("cheats", {})
    if not isinstance(cheats, dict) or set(cheats) - {"generic"}:
        raise ContentError(path, "[cheats] takes one key, generic = [names of generic cheats]")
    generic = cheats.get("generic", [])
    if not isinstance(generic, list) or any(g not in GENERIC for g in generic):
        raise ContentError(path, f"[cheats] generic must list names from: {', '.join(GENERIC)}")
    return Challenge(
        generic_cheats=tuple(generic),
        reported_aliases={k: tuple(v) for k, v in reported.items()},
        id=cid,
        path=folder,
        title=_need(data, "title", path),
        difficulty=data.get("difficulty", ""),
        kind=kind,
        kind_options=dict(kind_options),
        summary=data.get("summary", ""),
        suite_version=str(data.get("suite_version", "1")),
        entry_points=tuple(entry_points),
        traps=tuple(traps),
        metrics=tuple(metrics),
        limits=limits,
        prompt_files=tuple(listed),
    )


def load_challenges(challenges_dir: Path) -> dict[str, Challenge]:
    """All challenges, by id, in folder order. Contributor errors raise ContentError."""
    out: dict[str, Challenge] = {}
    if not challenges_dir.is_dir():
        return out
    for folder in sorted(p for p in challenges_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if skip_link(folder, "challenge folder") or skip_link(folder / "challenge.toml", "challenge.toml"):
            continue
        out[folder.name] = load_challenge(folder)
    return out
