"""`llmbench new-model MODEL`: lay out solutions/MODEL/ so a model can be given every challenge.

Each challenge gets solutions/MODEL/<challenge>/PROMPT.md (a copy of the challenge's prompt)
plus the data files the prompt needs; a folder holding only these is "no attempt" and is
not run until the model's files are added next to them.
"""
from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path, PurePosixPath

from .challenge import Challenge, load_challenges
from .errors import ContentError, LlmbenchError
from .project import Project
from .solution import check_model_id
from .study import STUDY_FILE, StudyModel, load_study

# Order of the difficulty guide; unknown difficulties follow, alphabetically.
DIFFICULTY_ORDER = ("Easy", "Medium", "Hard", "Extra Hard", "Open-ended research")
# Trusted parts of a challenge folder: never handed to the model.
PRIVATE = {"challenge.toml", "support.py", "conformance", "reference", "mutants", "PROMPT.md"}
# Relative paths written in the prompt, e.g. `corpus/corpus.txt` or [text](data/x.txt).
_PATH_IN_TEXT = re.compile(r"[`(\[]\s*((?:\./)?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*)\s*[`)\]]")


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


def _inside(challenge: Challenge, rel: str) -> Path | None:
    """challenge.path / rel when it is a file inside the folder and not a trusted part."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or pure.parts[0] in PRIVATE:
        return None
    path = challenge.path / pure
    if path.is_symlink() or not path.is_file():
        return None
    return path


def prompt_files(challenge: Challenge) -> list[str]:
    """Data files the prompt needs, relative to the challenge folder.

    Two sources: a `prompt_files = [...]` list in challenge.toml (explicit, checked), and
    relative paths the prompt itself mentions that name a file in the folder (so a corpus
    the prompt points to travels with it even when nobody listed it).
    """
    out: list[str] = []
    toml_path = challenge.path / "challenge.toml"
    listed = []
    if toml_path.exists():
        with toml_path.open("rb") as fh:
            listed = tomllib.load(fh).get("prompt_files", [])
        if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
            raise ContentError(toml_path, "'prompt_files' must be a list of paths relative to the challenge folder")
    for rel in listed:
        if _inside(challenge, rel) is None:
            raise ContentError(toml_path, f"prompt_files: '{rel}' is not a file of this challenge folder "
                                          "(outside conformance/, reference/, mutants/)")
        out.append(PurePosixPath(rel).as_posix())
    for match in _PATH_IN_TEXT.finditer(challenge.prompt):
        rel = PurePosixPath(match.group(1)).as_posix()
        if rel not in out and _inside(challenge, rel) is not None:
            out.append(rel)
    return out


def is_prompt_copy(folder: Path, rel: Path, challenge: Challenge | None) -> bool:
    """folder/rel is PROMPT.md or an unchanged copy of one of the challenge's prompt data files."""
    name = rel.as_posix()
    if name == "PROMPT.md":
        return True
    if challenge is None or name not in prompt_files(challenge):
        return False
    path = folder / rel
    return not path.is_symlink() and path.is_file() and _same_bytes(path, challenge.path / rel)


def is_scaffold_only(folder: Path, challenge: Challenge | None) -> bool:
    """True when folder holds no attempt: only PROMPT.md and unchanged copies of the prompt's data files.

    A folder new-model wrote (or a study folder the model never worked in) is not a solution.
    """
    from .solution import solution_files

    return all(is_prompt_copy(folder, rel, challenge) for rel in solution_files(folder))


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


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
            extra = " [needs a CUDA GPU]" if ch.kind == "cuda" else ""
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
