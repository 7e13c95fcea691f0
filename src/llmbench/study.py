"""The published study's facts (data/study.toml): models, challenges, judge grades, ranking.

Grades are an LLM judge's opinion and reported figures were printed by the models' own
scripts; llmbench presents both as such, next to its own measurements, never as them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ContentError, read_toml, toml_present

STUDY_FILE = Path("data") / "study.toml"


@dataclass(frozen=True)
class StudyModel:
    """A model as the study lists it (``[[models]]``).

    Attributes:
        id: The model's folder in the study repository, also llmbench's model id.
        name: Display name.
        provider: Who serves the model.
        note: Free-form note.
    """
    id: str  # the model's folder in the study repository, used as llmbench's model id
    name: str
    provider: str = ""
    note: str = ""


@dataclass(frozen=True)
class StudyChallenge:
    """A challenge as the study lists it (``[[challenges]]``).

    Attributes:
        id: The challenge's folder in the study repository.
        title: Display title.
        difficulty: The study's difficulty label.
        harness: The coding agent that produced the solutions.
    """
    id: str
    title: str
    difficulty: str = ""
    harness: str = ""  # the coding agent that produced the solutions


@dataclass(frozen=True)
class RankEntry:
    """One line of the study's published ranking (``[[ranking]]``).

    Attributes:
        rank: Position, 1 first.
        model: Model id.
        average: Average grade as published, e.g. ``"A-/B+"``.
    """
    rank: int
    model: str
    average: str  # as published, e.g. "A-/B+"


@dataclass(frozen=True)
class Study:
    """The published study's facts, from data/study.toml (see `load_study`).

    Attributes:
        path: The study file.
        title: The study's title.
        source: Where it is published (a URL).
        commit: The commit of the study repository the facts are taken from.
        judge: Who graded the solutions (an LLM judge).
        grade_scale: How the grades read.
        layout: How the study repository is laid out.
        models: The models studied.
        challenges: The challenges set.
        grades: Challenge id -> model id -> the judge's grade.
        ranking: The published ranking.
        reported: Challenge id -> metric -> model id -> a figure the study printed (never reproduced here).
    """
    path: Path
    title: str
    source: str
    commit: str
    judge: str
    grade_scale: str = ""
    layout: str = ""
    models: tuple[StudyModel, ...] = ()
    challenges: tuple[StudyChallenge, ...] = ()
    grades: dict[str, dict[str, str]] = field(default_factory=dict)  # challenge -> model -> grade
    ranking: tuple[RankEntry, ...] = ()
    # challenge -> metric -> model -> value, figures the study printed (never reproduced)
    reported: dict[str, dict[str, dict[str, float | str]]] = field(default_factory=dict)

    def model(self, model_id: str) -> StudyModel | None:
        """The study's entry for a model id, or None."""
        return next((m for m in self.models if m.id == model_id), None)

    def challenge(self, challenge_id: str) -> StudyChallenge | None:
        """The study's entry for a challenge id, or None."""
        return next((c for c in self.challenges if c.id == challenge_id), None)

    def grade(self, model_id: str, challenge_id: str) -> str | None:
        """The judge's grade of a model on a challenge, or None when the study gives none."""
        return self.grades.get(challenge_id, {}).get(model_id)

    def reported_value(self, model_id: str, challenge_id: str, metric: str) -> float | str | None:
        """A figure the study printed for a model on a challenge, or None."""
        return self.reported.get(challenge_id, {}).get(metric, {}).get(model_id)

    @property
    def source_label(self) -> str:
        """The source with its commit, as the site cites it."""
        return f"{self.source} at commit {self.commit}" if self.commit else self.source


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def load_study(path: Path) -> Study | None:
    """The study at path, or None when the file does not exist. Mistakes raise ContentError."""
    if not toml_present(path):
        return None
    data = read_toml(path)  # the one reader of contributor TOML (no links, size-capped)
    text = path.read_text(encoding="utf-8")  # only to point at the line of a mistake

    def fail(message: str, needle: str | None = None):
        raise ContentError(path, message, _line_of(text, needle) if needle else None)

    info = data.get("study", {})
    if not isinstance(info, dict):
        fail("[study] must be a table", "[study]")
    for key in ("title", "source", "judge"):
        if not isinstance(info.get(key), str) or not info.get(key):
            fail(f"[study] needs a '{key}' string", "[study]")

    def tables(key: str) -> list[dict]:
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            fail(f"'{key}' must be an array of tables ([[{key}]])", key)
        return items

    models = []
    for item in tables("models"):
        if not isinstance(item.get("folder"), str) or not isinstance(item.get("name"), str):
            fail("every [[models]] needs 'folder' and 'name' strings", "[[models]]")
        models.append(StudyModel(item["folder"], item["name"], str(item.get("provider", "")), str(item.get("note", ""))))
    challenges = []
    for item in tables("challenges"):
        if not isinstance(item.get("folder"), str) or not isinstance(item.get("title"), str):
            fail("every [[challenges]] needs 'folder' and 'title' strings", "[[challenges]]")
        challenges.append(
            StudyChallenge(item["folder"], item["title"], str(item.get("difficulty", "")), str(item.get("harness", "")))
        )
    model_ids = [m.id for m in models]
    challenge_ids = [c.id for c in challenges]
    for kind, ids in (("model", model_ids), ("challenge", challenge_ids)):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            fail(f"duplicate {kind} folder(s): {', '.join(dupes)}")

    def known(kind: str, value: str, valid: list[str], needle: str) -> None:
        if value not in valid:
            fail(f"unknown {kind} '{value}'; valid {kind}s: {', '.join(valid)}", needle)

    grades: dict[str, dict[str, str]] = {}
    for cid, by_model in (data.get("grades") or {}).items():
        known("challenge", cid, challenge_ids, f"[grades.{cid}]")
        if not isinstance(by_model, dict):
            fail(f"[grades.{cid}] must map model folders to grades", f"[grades.{cid}]")
        for mid, grade in by_model.items():
            known("model", mid, model_ids, f"[grades.{cid}]")
            if not isinstance(grade, str):
                fail(f"grade of {mid} in [grades.{cid}] must be a string like \"A-\"", f"[grades.{cid}]")
        grades[cid] = dict(by_model)

    ranking = []
    for item in tables("ranking"):
        if not isinstance(item.get("rank"), int) or not isinstance(item.get("model"), str):
            fail("every [[ranking]] needs an integer 'rank' and a 'model'", "[[ranking]]")
        known("model", item["model"], model_ids, f'model = "{item["model"]}"')
        ranking.append(RankEntry(item["rank"], item["model"], str(item.get("average", ""))))

    reported: dict[str, dict[str, dict[str, float | str]]] = {}
    for cid, metrics in (data.get("reported") or {}).items():
        known("challenge", cid, challenge_ids, f"[reported.{cid}")
        for metric, by_model in metrics.items():
            if not isinstance(by_model, dict):
                fail(f"[reported.{cid}.{metric}] must map model folders to values", f"[reported.{cid}")
            for mid, value in by_model.items():
                known("model", mid, model_ids, f"[reported.{cid}.{metric}]")
                if not isinstance(value, (int, float, str)) or isinstance(value, bool):
                    fail(f"reported {metric} of {mid} must be a number or a string", f"[reported.{cid}.{metric}]")
            reported.setdefault(cid, {})[metric] = dict(by_model)

    return Study(
        path=path,
        title=info["title"],
        source=info["source"],
        commit=str(info.get("commit", "")),
        judge=info["judge"],
        grade_scale=str(info.get("grade_scale", "")),
        layout=str(info.get("layout", "")),
        models=tuple(models),
        challenges=tuple(challenges),
        grades=grades,
        ranking=tuple(ranking),
        reported=reported,
    )
