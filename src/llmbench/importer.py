"""Bring an external study repository's model outputs into solutions/, byte for byte.

The source is laid out as <model-folder>/<challenge-folder>/<the model's files>. Model
folders are recognised from data/study.toml (or mapped with --map FOLDER=MODEL) and
challenge folders must be challenges in challenges/: anything else is reported, never
guessed. Files are copied unchanged (the raw output is evidence); symlinks are not
followed; an existing solution is only replaced with force=True. Nothing is written
outside solutions/.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .challenge import load_challenges
from .errors import LlmbenchError
from .project import Project
from .scaffold import is_prompt_copy, is_scaffold_only, known_models, model_toml_text
from .solution import IGNORED_NAMES, check_model_id

URL_PREFIXES = ("http://", "https://", "ssh://", "git://", "file://", "git@")
CLONE_TIMEOUT_S = 600


@dataclass
class ImportSummary:
    """What ``llmbench import`` / ``llmbench study`` did, printed by `render`.

    Attributes:
        source: Where it imported from.
        commit: HEAD of a cloned repository.
        models: Model id -> source folder.
        imported: ``(model, challenge)`` solutions copied.
        replaced: Those imported over an existing one (``--force``).
        kept: Existing solutions left alone.
        files: Files copied.
        bytes: Bytes copied.
        model_tomls: model.toml files written.
        no_attempt: ``folder/challenge`` folders holding only the prompt: no attempt, skipped.
        skipped: ``(source path, why)`` of what was not copied.
        unknown_models: Top-level folders not recognised as models.
        holds_challenges: Those of them with challenge folders inside.
        unknown_challenges: ``model-folder/sub`` folders that are not challenges in challenges/.
        identical: Groups of ``model/challenge/file`` with the same bytes in more than one model's
            folder (prompt copies excluded): one model may hold another's file.
    """
    source: str
    commit: str = ""  # HEAD of a cloned repository
    models: dict[str, str] = field(default_factory=dict)  # model id -> source folder
    imported: list[tuple[str, str]] = field(default_factory=list)  # (model, challenge)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # imported over an existing one (force)
    kept: list[tuple[str, str]] = field(default_factory=list)  # existing solution left alone
    files: int = 0
    bytes: int = 0
    model_tomls: list[str] = field(default_factory=list)  # model.toml files written
    no_attempt: list[str] = field(default_factory=list)  # "folder/challenge": only PROMPT.md
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source path, why)
    unknown_models: list[str] = field(default_factory=list)  # top-level folders not recognised
    holds_challenges: set[str] = field(default_factory=set)  # those of them with challenge folders inside
    unknown_challenges: list[str] = field(default_factory=list)  # "model-folder/sub" not in challenges/
    # Groups of "model/challenge/file" with the same bytes in more than one model's folder
    # (prompt copies excluded): one model may hold another's file, and discovery must not guess.
    identical: list[list[str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Something was imported or already present; False means the source gave nothing."""
        return bool(self.imported or self.kept)

    def render(self) -> str:
        """The summary as lines a person reads: counts, what was kept or skipped and why, and how to fix
        what was not recognised.
        """
        lines = [f"Imported from {self.source}" + (f" (commit {self.commit[:12]})" if self.commit else "")]
        used = {m for m, _ in self.imported + self.kept}
        if used:
            lines.append("  models: " + ", ".join(
                m if f == m else f"{m} (from {f}/)" for m, f in sorted(self.models.items()) if m in used))
        challenges = sorted({c for _, c in self.imported + self.kept})
        lines.append(f"  challenges: {len(challenges)}" + (f" ({', '.join(challenges)})" if challenges else ""))
        lines.append(f"  solutions imported: {len(self.imported)}"
                     + (f" ({len(self.replaced)} replaced with --force)" if self.replaced else ""))
        lines.append(f"  files copied: {self.files} ({_size(self.bytes)})")
        if self.model_tomls:
            lines.append(f"  model.toml written: {', '.join(self.model_tomls)}")
        if self.kept:
            lines.append("  kept (a solution exists; --force replaces it): "
                         + ", ".join(f"{m}/{c}" for m, c in self.kept))
        if self.no_attempt:
            lines.append("  skipped, no attempt (only PROMPT.md and the prompt's data): " + ", ".join(self.no_attempt))
        if self.skipped:
            lines.append(f"  skipped: {len(self.skipped)}")
            lines.extend(f"    {path}: {why}" for path, why in self.skipped)
        if self.unknown_models or self.unknown_challenges:
            lines.append("  not recognised (nothing imported from these):")
            for name in self.unknown_models:
                if name in self.holds_challenges:
                    lines.append(f"    {name}/: holds challenge folders but is not a model of the study data; "
                                 f"to import it, add --map {name}=MODEL-ID")
                else:
                    lines.append(f"    {name}/: not a model folder (no challenge folders inside)")
            lines.extend(f"    {name}/: not a challenge in challenges/" for name in self.unknown_challenges)
        if self.identical:
            lines.append("  byte-identical files in several models' folders (which model wrote them? "
                         "an adapter.toml mapping says which module to judge):")
            lines.extend("    " + " = ".join(group) for group in self.identical)
        if not self.ok:
            lines.append("  nothing imported: is this a repository laid out as <model>/<challenge>/?")
        return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def is_url(source: str) -> bool:
    """Whether the source is a git URL (cloned) rather than a local folder."""
    return source.startswith(URL_PREFIXES)


def parse_maps(items: list[str] | None) -> dict[str, str]:
    """["FOLDER=MODEL", ...] from the command line -> {FOLDER: MODEL}, ids checked."""
    out: dict[str, str] = {}
    for item in items or []:
        folder, sep, model = item.partition("=")
        folder, model = folder.strip().strip("/"), model.strip()
        if not sep or not folder or not model:
            raise LlmbenchError(f"--map {item!r}: write it as FOLDER=MODEL-ID, e.g. --map my_glm=glm5")
        if folder in out and out[folder] != model:
            raise LlmbenchError(f"--map: folder '{folder}' is mapped twice ({out[folder]}, {model})")
        out[folder] = check_model_id(model, "--map")
    return out


def _clone(url: str, into: Path) -> str:
    """Shallow clone of url into `into`; returns the HEAD commit."""
    if shutil.which("git") is None:
        raise LlmbenchError("importing from a URL needs git; install it or pass a local folder")
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")  # fail instead of asking for a password
    try:
        proc = subprocess.run(["git", "clone", "--depth", "1", "--quiet", "--", url, str(into)],
                              capture_output=True, text=True, env=env, timeout=CLONE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LlmbenchError(f"git clone {url} took longer than {CLONE_TIMEOUT_S} s; clone it yourself "
                            "and import the folder") from None
    if proc.returncode != 0:
        raise LlmbenchError(f"git clone {url} failed: {proc.stderr.strip() or proc.returncode}")
    head = subprocess.run(["git", "-C", str(into), "rev-parse", "HEAD"], capture_output=True, text=True, env=env)
    return head.stdout.strip() if head.returncode == 0 else ""


def _walk(folder: Path, rel: Path, summary: ImportSummary, shown: str) -> list[Path]:
    """Regular files under folder (relative), never following symlinks; the rest is reported."""
    out = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            path = rel / entry.name
            label = f"{shown}/{path.as_posix()}"
            if entry.is_symlink():
                summary.skipped.append((label, "symbolic link, not followed"))
            elif entry.name in IGNORED_NAMES:
                summary.skipped.append((label, "build debris, not the model's output"))
            elif entry.is_dir(follow_symlinks=False):
                out.extend(_walk(Path(entry.path), path, summary, shown))
            elif entry.is_file(follow_symlinks=False):
                out.append(path)
            else:
                summary.skipped.append((label, "not a regular file"))
    return out


class _NotRegular(Exception):
    """A file that was regular when walked is something else now (swapped under us)."""


def _open_source(src: Path, rel: Path) -> int:
    """A read descriptor of src/rel, never through a symlink at any level and never blocking
    on a FIFO: every folder is opened with O_NOFOLLOW relative to its parent's descriptor,
    so a file or folder swapped for a link after the walk is refused, not followed."""
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in rel.parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(rel.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError as exc:
        raise _NotRegular(f"changed while importing ({exc.strerror})") from None
    finally:
        os.close(fd)


def _copy_file(src: Path, rel: Path, target: Path) -> int:
    """Copy one regular file from its descriptor; mode & 0o755 (no set-uid/set-gid/sticky, no
    group or world write), owner read/write added. Returns the bytes copied."""
    fd = _open_source(src, rel)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular("changed while importing: not a regular file any more")
        os.set_blocking(fd, True)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        total = 0
        try:
            while chunk := os.read(fd, 1 << 20):
                os.write(out, chunk)  # a regular file: writes are complete
                total += len(chunk)
            os.fchmod(out, (stat.S_IMODE(st.st_mode) & 0o755) | stat.S_IRUSR | stat.S_IWUSR)
        finally:
            os.close(out)
        return total
    finally:
        os.close(fd)


def _copy_solution(src: Path, files: list[Path], dest: Path, summary: ImportSummary | None = None,
                   label: str = "") -> int:
    """Copy files into a fresh sibling folder, then swap it in: a failure leaves dest as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".import-{dest.name}-", dir=dest.parent))
    total = 0
    try:
        for rel in files:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                total += _copy_file(src, rel, target)
            except _NotRegular as why:
                if summary is not None:
                    summary.skipped.append((f"{label}/{rel.as_posix()}", str(why)))
        old = None
        if dest.exists() or dest.is_symlink():
            old = dest.parent / f".{dest.name}.replaced"
            if old.exists():
                shutil.rmtree(old)
            os.replace(dest, old)
        os.replace(staging, dest)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return total


def import_study(project: Project, source: str, maps: dict[str, str] | None = None,
                 force: bool = False) -> ImportSummary:
    """Import <model-folder>/<challenge-folder>/ trees from a folder or a git URL into solutions/.

    Args:
        project: The repository imported into.
        source: A folder, or a git URL (cloned with ``--depth 1``).
        maps: Source folder -> model id, for folders whose name is not the model id.
        force: Replace solutions that already exist (else they are kept).

    Returns:
        What was imported, kept and skipped, and why.

    Raises:
        LlmbenchError: The source is neither a folder nor a cloneable URL, or a mapped id is invalid.
    """
    maps = dict(maps or {})
    for model in maps.values():
        check_model_id(model, "--map")
    if is_url(source):
        with tempfile.TemporaryDirectory(prefix="llmbench-import-") as tmp:
            root = Path(tmp) / "repo"
            commit = _clone(source, root)
            summary = _import_tree(project, root, source, maps, force)
            summary.commit = commit
            return summary
    root = Path(source).expanduser()
    if not root.is_dir():
        raise LlmbenchError(f"{source}: no such folder; pass a study repository folder or a git URL")
    return _import_tree(project, root.resolve(), str(root), maps, force)


def _import_tree(project: Project, root: Path, shown: str, maps: dict[str, str], force: bool) -> ImportSummary:
    summary = ImportSummary(source=shown)
    known = known_models(project)
    challenges = load_challenges(project.challenges_dir)
    challenge_ids = set(challenges)
    if not challenge_ids:
        raise LlmbenchError(f"{project.challenges_dir}: no challenges; nothing to import solutions for")

    for folder in maps:
        if not (root / folder).is_dir() or (root / folder).is_symlink():
            raise LlmbenchError(f"--map {folder}={maps[folder]}: {shown} has no folder '{folder}'")

    hashes: dict[str, list[str]] = {}
    # Decide every model folder before copying anything, so clashes fail early.
    plan: list[tuple[Path, str]] = []
    owners: dict[str, str] = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith("."):
            continue  # .git, .github: repository machinery
        if entry.is_symlink():
            summary.skipped.append((name, "symbolic link, not followed"))
            continue
        if not entry.is_dir():
            continue  # README.md, LICENSE: not model output
        model = maps.get(name) or (name if name in known else None)
        if model is None:
            summary.unknown_models.append(name)
            if any((entry / cid).is_dir() for cid in challenge_ids):
                summary.holds_challenges.add(name)
            continue
        check_model_id(model, f"{shown}/{name}")
        if model in owners:
            raise LlmbenchError(f"folders '{owners[model]}' and '{name}' both map to model '{model}'; "
                                "map one of them to another id with --map")
        owners[model] = name
        plan.append((entry, model))

    for folder, model in plan:
        summary.models[model] = folder.name
        model_dir = project.solutions_dir / model
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            label = f"{folder.name}/{entry.name}"
            if entry.name.startswith(".") or entry.name in IGNORED_NAMES:
                summary.skipped.append((label, "hidden or build debris, not the model's output"))
                continue
            if entry.is_symlink():
                summary.skipped.append((label, "symbolic link, not followed"))
                continue
            if not entry.is_dir():
                summary.skipped.append((label, "file outside any challenge folder"))
                continue
            if entry.name not in challenge_ids:
                summary.unknown_challenges.append(label)
                continue
            files = _walk(entry, Path(), summary, label)
            if not files:
                summary.skipped.append((label, "empty folder"))
                continue
            if all(is_prompt_copy(entry, f, challenges[entry.name]) for f in files):
                summary.no_attempt.append(label)
                continue
            for rel in files:
                if rel.suffix in CODE_SUFFIXES and not is_prompt_copy(entry, rel, challenges[entry.name]):
                    digest = _digest(entry / rel)
                    if digest is not None:
                        hashes.setdefault(digest, []).append(f"{model}/{entry.name}/{rel.as_posix()}")
            dest = model_dir / entry.name
            existing = dest.is_dir() and not is_scaffold_only(dest, challenges[entry.name])
            if existing and not force:
                summary.kept.append((model, entry.name))
                continue
            summary.bytes += _copy_solution(entry, files, dest, summary, label)
            summary.files += len(files)
            summary.imported.append((model, entry.name))
            if existing:
                summary.replaced.append((model, entry.name))
        wrote_any = any(m == model for m, _ in summary.imported + summary.kept)
        toml_path = model_dir / "model.toml"
        if wrote_any and (force or not toml_path.exists()):
            origin = f"imported from {shown}, folder {folder.name}/"
            toml_path.write_text(model_toml_text(model, known.get(folder.name), origin), encoding="utf-8")
            summary.model_tomls.append(f"solutions/{model}/model.toml")
    summary.identical = [sorted(paths) for paths in hashes.values()
                         if len({p.split("/", 1)[0] for p in paths}) > 1]
    summary.identical.sort()
    return summary


CODE_SUFFIXES = (".py", ".cu", ".cuh", ".c", ".cc", ".cpp", ".h", ".hpp")  # data files are often shared on purpose


def _digest(path: Path) -> str | None:
    """sha256 of a regular file (never following a link), or None."""
    import hashlib

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h = hashlib.sha256()
        with os.fdopen(os.dup(fd), "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)
