"""The files of a solution folder: what counts as the model's output, and what is build debris."""
from __future__ import annotations

from pathlib import Path

# Folders in a solution that are build debris, not the model's output.
IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".git", ".ipynb_checkpoints", ".DS_Store"}


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
