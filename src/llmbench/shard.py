"""Sharding a plan across CI runners, and merging their result folders.

The partition depends only on result keys, so every runner computes the same one
without talking to the others; `merge` refuses two different results for one file.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .errors import LlmbenchError
from .schema import Result


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``--shard I/N``.

    Returns:
        ``(I, N)``, with 1 <= I <= N.

    Raises:
        LlmbenchError: Not of that form.
    """
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise LlmbenchError(f"--shard {text!r}: write it as I/N, e.g. 2/4") from None
    if not (n >= 1 and 1 <= i <= n):
        raise LlmbenchError(f"--shard {text!r}: need 1 <= I <= N")
    return i, n


def shard_of(key: str, n: int) -> int:
    """1-based shard of a result key (stable across machines and Python versions)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % n + 1


def select_shard(jobs, text: str):
    """The jobs of shard ``I/N``: those whose key falls into it (`shard_of`)."""
    i, n = parse_shard(text)
    return [j for j in jobs if shard_of(j.key, n) == i]


def merge(sources: list[Path], dest: Path) -> dict[str, int]:
    """Copy result files of several folders into dest; identical keys are fine, conflicts are errors."""
    counts = {"copied": 0, "identical": 0}
    planned: dict[Path, tuple[str, Path]] = {}
    for src in sources:
        if not src.is_dir():
            raise LlmbenchError(f"{src}: not a results folder")
        for path in sorted(src.rglob("*.json")):
            rel = path.relative_to(src)
            try:
                key = Result.model_validate_json(path.read_bytes()).key
            except ValueError as exc:
                raise LlmbenchError(f"{path}: not a valid result file ({str(exc).splitlines()[0]})") from None
            target = dest / rel
            if rel in planned:
                if planned[rel][0] != key:
                    raise LlmbenchError(f"conflict: {rel} has key {planned[rel][0][:12]} in {planned[rel][1]} "
                                        f"and {key[:12]} in {path}; rerun one shard")
                counts["identical"] += 1
                continue
            if target.exists() and src.resolve() != dest.resolve():
                existing = Result.model_validate_json(target.read_bytes()).key
                if existing != key:
                    raise LlmbenchError(f"conflict: {target} already holds key {existing[:12]}, {path} has {key[:12]}")
            planned[rel] = (key, path)
    for rel, (_key, path) in planned.items():
        target = dest / rel
        if path.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            counts["copied"] += 1
    return counts


def register(sub, iso) -> None:
    """Add the ``merge`` command (combine sharded result folders) to the CLI's subparsers."""
    p = sub.add_parser("merge", help="combine result folders of sharded runs into results/")
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--into", type=Path, default=None, help="destination (default: the project's results/)")
    p.set_defaults(func=_cmd_merge)


def _cmd_merge(args) -> int:
    from .project import Project

    dest = args.into or Project.find().results_dir
    counts = merge(args.folders, dest)
    print(f"merged into {dest}: {counts['copied']} copied, {counts['identical']} identical duplicates")
    return 0
