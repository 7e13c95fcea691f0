"""`llmbench new-model MODEL`: lay out solutions/MODEL/ so a model can be given every challenge.

Each challenge gets solutions/MODEL/<challenge>/PROMPT.md (a copy of the challenge's prompt)
plus the data files the prompt needs; a folder holding only these is "no attempt" and is
not run until the model's files are added next to them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .challenge import Challenge, load_challenges
from .errors import ContentError, LlmbenchError
from .project import Project
from .prompt_copies import PRIVATE, is_prompt_copy, is_scaffold_only, prompt_files  # noqa: F401 - re-exported
from .solution import check_model_id
from .study import STUDY_FILE, StudyModel, load_study

# Order of the difficulty guide; unknown difficulties follow, alphabetically.
DIFFICULTY_ORDER = ("Easy", "Medium", "Hard", "Extra Hard", "Open-ended research")


def known_models(project: Project) -> dict[str, StudyModel]:
    """The study's model folders (data/study.toml) -> their names; {} without study data."""
    study = load_study(project.root / STUDY_FILE)
    return {m.id: m for m in study.models} if study else {}


def model_toml_text(model_id: str, info: StudyModel | None, origin: str) -> str:
    """A model.toml for model_id from study data (or just the id when unknown)."""
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"# {' '.join(origin.splitlines())}", f"name = {q(info.name if info else model_id)}"]
    if info and info.provider:
        lines.append(f"provider = {q(info.provider)}")
    if info and info.note:
        lines.append(f"note = {q(info.note)}")
    return "\n".join(lines) + "\n"


def difficulty_guide(challenges: dict[str, Challenge]) -> str:
    """Challenges grouped by difficulty, easiest first: what to give a new model first."""
    groups: dict[str, list[Challenge]] = {}
    for ch in challenges.values():
        groups.setdefault(ch.difficulty or "Unrated", []).append(ch)

    def order(level: str) -> tuple[int, str]:
        return (DIFFICULTY_ORDER.index(level), "") if level in DIFFICULTY_ORDER else (len(DIFFICULTY_ORDER), level)

    lines = ["Challenges by difficulty:"]
    for level in sorted(groups, key=order):
        lines.append(f"  {level}:")
        for ch in sorted(groups[level], key=lambda c: c.id):
            extra = ch.kind_impl.scaffold_note
            lines.append(f"    {ch.id:<22} {ch.title}{extra}")
    return "\n".join(lines)


def new_model(project: Project, model_id: str) -> list[Path]:
    """Create solutions/MODEL/ with model.toml and one prompt folder per challenge.

    Refuses an invalid id or an existing folder. Returns the files written.
    """
    check_model_id(model_id, "new-model")
    challenges = load_challenges(project.challenges_dir)
    if not challenges:
        raise LlmbenchError(f"{project.challenges_dir}: no challenges to hand out")
    model_dir = project.solutions_dir / model_id
    if model_dir.exists() or model_dir.is_symlink():
        raise LlmbenchError(f"{model_dir} already exists; choose another model id or remove the folder")
    plans = {cid: prompt_files(ch) for cid, ch in challenges.items()}  # validate before writing
    for cid, ch in challenges.items():
        if not ch.prompt_path.is_file():
            raise ContentError(ch.prompt_path, "missing: every challenge needs a PROMPT.md")

    written: list[Path] = []
    model_dir.mkdir(parents=True)
    info = known_models(project).get(model_id)
    toml = model_dir / "model.toml"
    origin = "written by llmbench new-model; edit name, provider and note"
    toml.write_text(model_toml_text(model_id, info, origin), encoding="utf-8")
    written.append(toml)
    for cid, ch in challenges.items():
        folder = model_dir / cid
        folder.mkdir()
        shutil.copyfile(ch.prompt_path, folder / "PROMPT.md")
        written.append(folder / "PROMPT.md")
        for rel in plans[cid]:
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ch.path / rel, target)
            written.append(target)
    return written


def new_model_report(project: Project, model_id: str, written: list[Path]) -> str:
    """What the CLI prints after new_model: where things are, what to do next, the guide."""
    challenges = load_challenges(project.challenges_dir)
    rel = [p.relative_to(project.root).as_posix() for p in written]
    data = [r for r in rel if not r.endswith(("PROMPT.md", "model.toml"))]
    lines = [f"Created solutions/{model_id}/ with {len(challenges)} challenge folders"
             + (f" and {len(data)} data files ({', '.join(data)})" if data else "") + ".",
             f"Edit solutions/{model_id}/model.toml (name, provider), give the model each PROMPT.md,",
             "and save its files next to the prompt; folders holding only PROMPT.md are not run.",
             "", difficulty_guide(challenges)]
    return "\n".join(lines)
