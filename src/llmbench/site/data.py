"""Everything the site shows, loaded once per build: study facts, challenges, models, results.

Contributor content (challenge.toml, model.toml, data/study.toml) that is wrong raises
ContentError. What solutions and runs produced (unreadable result files, odd folders) is
kept as a visible state instead: the site shows it, the build goes on.
"""
from __future__ import annotations

import json
import os
import stat
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..challenge import Challenge, load_challenges
from ..claims import CLAIMS_FILE, Claims, challenge_names, load_claims
from ..fidelity import Fidelity, load_fidelity
from ..schema import Result
from ..solution import REFERENCE, Solution, discover_models, discover_solutions, solution_files
from ..store import CONTROLS, ResultStore
from ..study import Study, load_study

NOTE_NAMES = ("FINAL.md", "NOTES.md", "NOTES.txt", "README.md", "ANALYSIS.md", "SUMMARY.md")
SESSION_LOG = "session.jsonl"
MAX_SOURCE_BYTES = 200_000  # larger files are shown truncated


@dataclass(frozen=True)
class ChallengeInfo:
    """A challenge as the site shows it: the study's facts and, when the repository has its folder, its spec.

    Attributes:
        id: The challenge id (its folder name).
        title: Its title.
        difficulty: The study's or challenge.toml's difficulty.
        kind: Its kind (python, cuda...; '' without a folder).
        summary: One paragraph from challenge.toml.
        harness: The coding agent of the study's run.
        spec: The validated challenge.toml, or None when the repository has no folder for it.
    """

    id: str
    title: str
    difficulty: str = ""
    kind: str = ""
    summary: str = ""
    harness: str = ""  # coding agent of the study's run
    spec: Challenge | None = None

    @property
    def metric_names(self) -> list[str]:
        """The names of the metrics its suite measures (none without a spec)."""
        return [m.name for m in self.spec.metrics] if self.spec else []


@dataclass(frozen=True)
class ModelInfo:
    """A model as the site shows it.

    Attributes:
        id: The model id (its folder name under solutions/).
        name: Its display name.
        provider: Who made it.
        note: A note from the study or model.toml.
        in_study: True when the published study graded it.
    """

    id: str
    name: str
    provider: str = ""
    note: str = ""
    in_study: bool = False


@dataclass(frozen=True)
class SourceFile:
    """One file of a solution folder, as published.

    Attributes:
        path: Relative to the solution folder, posix.
        size: Its size in bytes.
        text: Its text (at most MAX_SOURCE_BYTES); None when binary or not published.
        truncated: True when the text stops at MAX_SOURCE_BYTES.
    """

    path: str  # relative to the solution folder, posix
    size: int
    text: str | None  # None: binary or not published
    truncated: bool = False


@dataclass(frozen=True)
class StudyPrompt:
    """The study's own prompt for a challenge, as imported.

    Attributes:
        text: The study's PROMPT.md (never part of the repository).
        models: The models whose copy holds this text.
    """

    text: str  # the study's PROMPT.md as imported (never part of the repository)
    models: tuple[str, ...]  # the models whose copy holds this text


@dataclass(frozen=True)
class SessionStats:
    """Counts from an agent session log (session.jsonl).

    Attributes:
        lines: Non-blank lines.
        records: Lines that are JSON objects.
        unreadable: Lines that are not.
        kinds: Records by type or role.
        tool_calls: Tool calls found in the records.
        first: The earliest timestamp found ('' when none).
        last: The latest timestamp found.
        bytes: The log's size.
    """

    lines: int
    records: int
    unreadable: int
    kinds: dict[str, int]
    tool_calls: int
    first: str = ""
    last: str = ""
    bytes: int = 0


@dataclass
class SiteData:
    """Everything the site shows, loaded once per build by `load_site_data`.

    Attributes:
        root: The repository.
        study: The published study's facts (data/study.toml), or None.
        challenges: Challenge id -> info, the study's order first.
        models: Model id -> info, the published ranking's order first.
        results: (model, challenge) -> its current result file.
        unreadable: (model, challenge) -> why its result file was not used.
        controls: Challenge -> control name (reference, mutant-<trap>, cheat-<name>) -> result.
        solutions: (model, challenge) -> the solution folder found.
        publish_sources: False: solution pages show results only.
        fidelity: Challenge -> its data/fidelity.toml entry.
        claims: data/claims.toml, validated against these models and challenges.
    """

    root: Path
    study: Study | None
    challenges: dict[str, ChallengeInfo]
    models: dict[str, ModelInfo]
    results: dict[tuple[str, str], Result]
    unreadable: dict[tuple[str, str], str]  # (model, challenge) -> why its result file was not used
    controls: dict[str, dict[str, Result]]
    solutions: dict[tuple[str, str], Solution]
    publish_sources: bool = True
    fidelity: dict[str, Fidelity] = field(default_factory=dict)  # challenge -> data/fidelity.toml entry
    claims: Claims | None = None  # data/claims.toml, validated against these models and challenges
    _cache: dict = field(default_factory=dict, repr=False)

    # ---- lookups -------------------------------------------------------------
    def grade(self, model: str, challenge: str) -> str | None:
        """The judge's grade of a solution, or None.
        Args:
            model: The model id.
            challenge: The challenge id.

        Returns:
            The grade as published.
        """
        return self.study.grade(model, challenge) if self.study else None

    def result(self, model: str, challenge: str) -> Result | None:
        """The result of a solution, or of the reference solution's control run for `_reference`.

        Args:
            model: The model id, or `_reference`.
            challenge: The challenge id.

        Returns:
            The result, or None when there is none (or it was unreadable).
        """
        if model == REFERENCE:
            return self.controls.get(challenge, {}).get("reference")
        return self.results.get((model, challenge))

    def has_page(self, model: str, challenge: str) -> bool:
        """True when a solution page exists for the pair: graded, imported or run.
        Args:
            model: The model id.
            challenge: The challenge id.

        Returns:
            Whether the site has the page.
        """
        key = (model, challenge)
        return key in self.solutions or key in self.results or key in self.unreadable or self.grade(*key) is not None

    @cached_property
    def pairs(self) -> list[tuple[str, str]]:
        """Every (model, challenge) with a solution page, models then challenges in the site's order."""
        return [(m, c) for m in self.models for c in self.challenges if self.has_page(m, c)]

    def stale_reason(self, result: Result) -> str:
        """Why a result no longer describes the current suite.

        Args:
            result: A result.

        Returns:
            The reason and what to do, or '' when it is current.
        """
        info = self.challenges.get(result.challenge)
        if info and info.spec and result.provenance.suite_version != info.spec.suite_version:
            return (f"stale: measured with suite version {result.provenance.suite_version}, "
                    f"the suite is now version {info.spec.suite_version}; re-run `llmbench run`")
        return ""

    def reported_metrics(self, challenge: str) -> list[str]:
        """Metric names reported for a challenge by the study or by any solution's own files.

        Args:
            challenge: The challenge id.

        Returns:
            The names, the study's first.
        """
        names = list(self.study.reported.get(challenge, {})) if self.study else []
        for (m, c), r in self.results.items():
            if c == challenge:
                names.extend(k for k in r.reported if k not in names)
        return names

    def reported(self, model: str, challenge: str, metric: str) -> tuple[float | str, str, str] | None:
        """A figure someone else reported: the solution's own claim first, then the study's.

        Args:
            model: The model id.
            challenge: The challenge id.
            metric: The metric's name.

        Returns:
            (value, unit, who reported it), or None when nobody did.
        """
        r = self.results.get((model, challenge))
        if r is not None and metric in r.reported:
            rep = r.reported[metric]
            where = f" in {rep.source}" + (f", line {rep.line}" if rep.line else "") if rep.source else ""
            return rep.value, rep.unit, "reported by the solution" + where
        if self.study is not None:
            value = self.study.reported_value(model, challenge, metric)
            if value is not None:
                return value, self.metric_unit(challenge, metric), "reported by the study"
        return None

    def metric_unit(self, challenge: str, metric: str) -> str:
        """The unit challenge.toml gives a metric: a reported figure is in the same unit.

        Args:
            challenge: The challenge id.
            metric: The metric's name.

        Returns:
            The unit, or '' when none is given.
        """
        info = self.challenges.get(challenge)
        spec = info.spec.metric(metric) if info and info.spec else None
        return spec.unit if spec else ""

    # ---- solution files (cached: read once per build) ------------------------
    def files(self, model: str, challenge: str) -> list[SourceFile]:
        """A solution's files, read once per build (heads only: at most MAX_SOURCE_BYTES each).
        Args:
            model: The model id.
            challenge: The challenge id.

        Returns:
            Its files, sorted by path; [] without a solution folder.
        """
        key = ("files", model, challenge)
        if key not in self._cache:
            self._cache[key] = self._read_files(model, challenge)
        return self._cache[key]

    def _read_files(self, model: str, challenge: str) -> list[SourceFile]:
        sol = self.solutions.get((model, challenge))
        if sol is None:
            return []
        out = []
        for rel in solution_files(sol.path):
            path = sol.path / rel
            if path.is_symlink():
                out.append(SourceFile(rel.as_posix(), 0, None))
                continue
            size = path.stat().st_size
            text, truncated = None, False
            if self.publish_sources and rel.name != SESSION_LOG:
                raw = read_head(path, MAX_SOURCE_BYTES + 1)
                if b"\0" not in raw[:8192]:
                    truncated = len(raw) > MAX_SOURCE_BYTES
                    text = raw[:MAX_SOURCE_BYTES].decode("utf-8", errors="replace")
            out.append(SourceFile(rel.as_posix(), size, text, truncated))
        return out

    def study_prompts(self, challenge: str) -> list[StudyPrompt]:
        """The study's own prompt for a challenge, read from the imported copies
        (solutions/<model>/<challenge>/PROMPT.md), one entry per distinct text.

        Args:
            challenge: The challenge id.

        Returns:
            The distinct texts with the models holding each.
        """
        key = ("study_prompts", challenge)
        if key not in self._cache:
            groups: dict[str, list[str]] = {}
            for (mid, cid), sol in sorted(self.solutions.items()):
                path = sol.path / "PROMPT.md"
                if cid != challenge or path.is_symlink() or not path.is_file():
                    continue
                text = read_head(path, MAX_SOURCE_BYTES).decode("utf-8", errors="replace")
                # A missing final newline is not a different prompt.
                groups.setdefault(text.rstrip() + "\n", []).append(mid)
            self._cache[key] = [StudyPrompt(text, tuple(models)) for text, models in groups.items()]
        return self._cache[key]

    def notes(self, model: str, challenge: str) -> list[SourceFile]:
        """The model's own notes (FINAL.md, NOTES.md...) at the top of its solution folder.
        Args:
            model: The model id.
            challenge: The challenge id.

        Returns:
            Those files.
        """
        wanted = {n.lower() for n in NOTE_NAMES}
        return [f for f in self.files(model, challenge) if "/" not in f.path and f.path.lower() in wanted]

    def session_stats(self, model: str, challenge: str) -> SessionStats | None:
        """Counts from the solution's agent session log, read once per build.
        Args:
            model: The model id.
            challenge: The challenge id.

        Returns:
            The counts, or None without a session.jsonl.
        """
        key = ("session", model, challenge)
        if key not in self._cache:
            sol = self.solutions.get((model, challenge))
            path = sol.path / SESSION_LOG if sol else None
            self._cache[key] = session_stats(path) if path and path.is_file() and not path.is_symlink() else None
        return self._cache[key]


def read_head(path: Path, limit: int) -> bytes:
    """At most `limit` bytes from the start of a regular file.

    A solution may hold a multi-GB checkpoint: it is never read whole.

    Args:
        path: The file.
        limit: Bytes to read at most.

    Returns:
        The bytes; b"" for a link, FIFO, device or unreadable file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        chunks, left = [], limit
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


def session_stats(path: Path) -> SessionStats:
    """Counts from an agent session log (JSON lines of any shape): records by type, tool calls, time span.

    Args:
        path: The session.jsonl file.

    Returns:
        The counts.

    Raises:
        OSError: The file cannot be opened.
    """
    lines = records = unreadable = tool_calls = 0
    kinds: dict[str, int] = {}
    stamps: list[str] = []
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            lines += 1
            try:
                rec = json.loads(raw)
            except ValueError:
                unreadable += 1
                continue
            if not isinstance(rec, dict):
                unreadable += 1
                continue
            records += 1
            msg = rec.get("message")
            kind = rec.get("type") or rec.get("role") or (msg.get("role") if isinstance(msg, dict) else None)
            kind = str(kind or "other")[:40]
            kinds[kind] = kinds.get(kind, 0) + 1
            tool_calls += _count_tool_calls(rec)
            stamp = rec.get("timestamp") or rec.get("time") or rec.get("ts")
            if isinstance(stamp, str) and stamp:
                stamps.append(stamp[:40])
    return SessionStats(lines, records, unreadable, dict(sorted(kinds.items())), tool_calls,
                        min(stamps) if stamps else "", max(stamps) if stamps else "", path.stat().st_size)


def _count_tool_calls(obj, depth: int = 0) -> int:
    """Tool calls in one log record, whatever the agent's format (bounded recursion)."""
    if depth > 6:
        return 0
    if isinstance(obj, dict):
        n = 0
        kind = obj.get("type")
        if isinstance(kind, str) and kind in ("tool_use", "toolCall", "tool_call", "function_call"):
            n += 1
        if isinstance(obj.get("tool_calls"), list):
            n += len(obj["tool_calls"])
        for key, value in obj.items():
            if key != "tool_calls" and isinstance(value, (dict, list)):
                n += _count_tool_calls(value, depth + 1)
        return n
    if isinstance(obj, list):
        return sum(_count_tool_calls(v, depth + 1) for v in obj)
    return 0


def _read_results(results_dir: Path):
    """Solution results by (model, challenge), and the reason for each file that could not be used."""
    store = ResultStore(results_dir)
    results, unreadable = {}, {}
    if not results_dir.is_dir():
        return results, unreadable
    for path in sorted(results_dir.glob("*/*.json")):
        if path.parent.name == CONTROLS or path.parent.name.startswith("."):
            continue
        key = (path.parent.name, path.stem)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = store.read(path)
        if result is None:
            why = str(caught[0].message).split(": ", 1)[-1] if caught else "unreadable"
            unreadable[key] = why
        elif (result.model, result.challenge) != key or result.run_kind != "solution":
            unreadable[key] = (f"the file says model '{result.model}', challenge '{result.challenge}', "
                               f"run kind '{result.run_kind}': not this solution's result")
        else:
            results[key] = result
    return results, unreadable


def load_site_data(root: Path, results_dir: Path | None = None, study_path: Path | None = None,
                   publish_sources: bool = True) -> SiteData:
    """Load everything the site shows: study, challenges, models, solutions, results, controls, claims.

    Args:
        root: The repository.
        results_dir: Where results are; default root/results.
        study_path: The study's facts; default root/data/study.toml.
        publish_sources: False: solution pages show results only.

    Returns:
        The site data.

    Raises:
        ContentError: Contributor content (challenge.toml, model.toml, study, fidelity or claims
            files) is wrong; the message names the file and the key. Result files a run wrote
            never raise: unreadable ones are listed in `SiteData.unreadable`.
    """
    root = Path(root)
    results_dir = results_dir or root / "results"
    study = load_study(study_path or root / "data" / "study.toml")
    specs = load_challenges(root / "challenges")
    models_found = discover_models(root / "solutions")
    results, unreadable = _read_results(results_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unreadable controls show as missing on the page
        controls = ResultStore(results_dir).controls() if (results_dir / CONTROLS).is_dir() else {}

    challenges: dict[str, ChallengeInfo] = {}
    for sc in study.challenges if study else ():
        spec = specs.get(sc.id)
        challenges[sc.id] = ChallengeInfo(
            sc.id, spec.title if spec else sc.title, (spec.difficulty if spec else "") or sc.difficulty,
            spec.kind if spec else "", spec.summary if spec else "", sc.harness, spec)
    for cid, spec in specs.items():
        if cid not in challenges:
            challenges[cid] = ChallengeInfo(cid, spec.title, spec.difficulty, spec.kind, spec.summary, "", spec)

    models: dict[str, ModelInfo] = {}
    if study:
        ranked = [e.model for e in study.ranking]
        ordered = ranked + [m.id for m in study.models if m.id not in ranked]
        for mid in ordered:
            sm = study.model(mid)
            found = models_found.get(mid)
            models[mid] = ModelInfo(mid, sm.name, sm.provider or (found.provider if found else ""),
                                    sm.note or (found.note if found else ""), True)
    for mid, m in models_found.items():
        if mid not in models:
            models[mid] = ModelInfo(mid, m.name, m.provider, m.note, False)
    for mid, _ in sorted(set(results) | set(unreadable)):
        if mid not in models and not mid.startswith("_"):
            models[mid] = ModelInfo(mid, mid)
    # Results of challenges that no longer exist have no page to live on.
    results = {k: v for k, v in results.items() if k[1] in challenges}
    unreadable = {k: v for k, v in unreadable.items() if k[1] in challenges and k[0] in models}

    solutions = {(s.model, s.challenge): s for s in discover_solutions(
        root / "solutions", root / "adapters", list(challenges))}
    fidelity = load_fidelity(root / "data" / "fidelity.toml", challenges)
    claims = load_claims(root / CLAIMS_FILE, list(models),
                         challenge_names({cid: info.spec for cid, info in challenges.items()}))
    return SiteData(root, study, challenges, models, results, unreadable,
                    {c: v for c, v in controls.items() if c in challenges}, solutions, publish_sources, fidelity,
                    claims=claims)
