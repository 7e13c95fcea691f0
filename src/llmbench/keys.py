"""Result keys: a content hash of everything that can change a verdict."""
from __future__ import annotations

import hashlib
from pathlib import Path

from . import HARNESS_VERSION
from .solution import IGNORED_NAMES


def hash_tree(h, folder: Path | None, label: str) -> None:
    """Feed a folder's files (sorted relative paths and bytes) into h; symlinks by target text."""
    h.update(f"\0tree:{label}\0".encode())
    if folder is None or not folder.exists():
        h.update(b"<none>")
        return
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part in IGNORED_NAMES for part in rel.parts):
            continue
        if p.is_symlink():
            h.update(f"L {rel.as_posix()} -> {p.readlink()}\0".encode("utf-8", "surrogateescape"))
        elif p.is_file():
            h.update(f"F {rel.as_posix()} {p.stat().st_size}\0".encode("utf-8", "surrogateescape"))
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)


def result_key(solution: Path, adapter: Path | None, challenge: Path, env: dict, extra: str = "") -> str:
    h = hashlib.sha256()
    h.update(f"harness:{HARNESS_VERSION}\0".encode())
    hash_tree(h, solution, "solution")
    hash_tree(h, adapter, "adapter")
    hash_tree(h, challenge, "challenge")
    for k in sorted(env):
        h.update(f"env:{k}={env[k]}\0".encode())
    h.update(f"extra:{extra}".encode())
    return h.hexdigest()
