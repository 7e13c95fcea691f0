"""Throwaway copies of a solution: the only place a sandboxed process may write."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def make_copy(source: Path, parent: Path | None = None) -> Path:
    """A throwaway copy of a folder. Symlinks are copied as links (never followed)."""
    base = Path(tempfile.mkdtemp(prefix="llmbench-run-", dir=parent))
    os.chmod(base, 0o755)
    dest = base / "work"
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return dest


def remove_copy(copy: Path) -> None:
    """Delete a copy made by `make_copy` (and its private parent folder)."""
    shutil.rmtree(copy.parent, ignore_errors=True)
