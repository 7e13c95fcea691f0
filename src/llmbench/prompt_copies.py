"""What of a solution folder is only the prompt: PROMPT.md and unchanged copies of the data files
the prompt needs. A folder holding nothing else is no attempt (what `new-model` writes)."""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from .challenge import Challenge
from .errors import ContentError
from .files import solution_files

# Trusted parts of a challenge folder: never handed to the model (the kind's worker files,
# e.g. a host module, are private too: see `private_names`).
PRIVATE = {"challenge.toml", "support.py", "conformance", "reference", "mutants", "cheats", "PROMPT.md"}
# Relative paths written in the prompt, e.g. `corpus/corpus.txt` or [text](data/x.txt).
_PATH_IN_TEXT = re.compile(r"[`(\[]\s*((?:\./)?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*)\s*[`)\]]")


def private_names(challenge: Challenge) -> set[str]:
    """Top-level names of the challenge folder that are ours, never the model's."""
    return PRIVATE | set(challenge.kind_impl.worker_support_files(challenge.kind_options)
                         if challenge.kind_impl.native_loader else ())


def _inside(challenge: Challenge, rel: str) -> Path | None:
    """challenge.path / rel when it is a file inside the folder and not a trusted part."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or pure.parts[0] in private_names(challenge):
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
    for rel in challenge.prompt_files:
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
