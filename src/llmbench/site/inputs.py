"""What the site is made from, fingerprinted cheaply: one key per part of the inputs.

A warm build compares these keys with the ones its cached pages were made from, so it
re-renders only what changed. Keys come from each file's path, size, mtime and inode
(never its content: a solution folder may hold multi-GB checkpoints), so computing them
costs one directory walk and no parsing. A key that changes when nothing did only costs
a re-render; the parts are chosen so that no key stays the same when its page's inputs
changed.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Libraries whose output ends up in rendered pages (highlighted code, sanitised notes, the
# result schema): a new version may render differently.
RENDERING_LIBRARIES = ("markdown", "pygments", "pydantic")
_SKIPPED = ("__pycache__", ".pytest_cache", ".mypy_cache", ".git")


@dataclass(frozen=True)
class Fingerprint:
    """Keys of the site's inputs.

    Attributes:
        base: The code that renders, the plugin's options, challenges/, data/ and the study
            file, the models' own files (solutions/<model>/*, not their challenge folders).
        pairs: (model, challenge) -> key of its result file, solution folder and adapter folder.
        controls: challenge -> key of its control runs (results/_controls/<challenge>/).
        everything: base and every file under results/, solutions/ and adapters/.
    """

    base: str
    pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    controls: dict[str, str] = field(default_factory=dict)
    everything: str = ""

    def solution(self, model: str, challenge: str) -> str:
        """The key of what one solution's page shows.

        Args:
            model: The model id.
            challenge: The challenge id.

        Returns:
            base, the pair's own files and the challenge's control runs, hashed.
        """
        return _hash(self.base, self.pairs.get((model, challenge), ""), self.controls.get(challenge, ""))


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _entry(path: Path, rel: str) -> str:
    try:
        st = path.lstat()  # a link is its own entry: data never follows links into solutions
    except OSError:
        return f"{rel}:missing"
    return f"{rel}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_mode}"


def _walk(folder: Path) -> list[tuple[tuple[str, ...], str]]:
    """(relative parts, entry) for every file and link under folder, sorted by path."""
    out = []
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED)
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]:
            path = base / name
            rel = path.relative_to(folder)
            out.append((rel.parts, _entry(path, rel.as_posix())))
    out.sort()
    return out


def code_key(options: dict) -> str:
    """The key of what renders: llmbench's own files, the rendering libraries, the plugin's options.

    Args:
        options: The plugin's options (anything that changes what a page shows).

    Returns:
        The key.
    """
    from importlib.metadata import PackageNotFoundError, version

    import llmbench

    package = Path(llmbench.__file__).resolve().parent
    entries = [e for _, e in _walk(package)]
    libraries = []
    for name in RENDERING_LIBRARIES:
        try:
            libraries.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            libraries.append(f"{name}=none")
    return _hash(llmbench.__version__, sys.version, *libraries, repr(sorted(options.items())), *entries)


def fingerprint(root: Path, results_dir: Path, study: Path, options: dict) -> Fingerprint:
    """Fingerprint the repository's inputs to the site.

    Args:
        root: The repository.
        results_dir: Where results are.
        study: The study's facts file.
        options: The plugin's options.

    Returns:
        The keys.
    """
    # The root's path is in the key: messages shown on pages have it removed.
    base_parts = [code_key(options), str(root), _entry(study, "study")]
    for name in ("challenges", "data"):
        base_parts += [f"{name}/{e}" for _, e in _walk(root / name)]
    pairs: dict[tuple[str, str], list[str]] = {}
    controls: dict[str, list[str]] = {}
    rest: list[str] = []
    for parts, entry in _walk(results_dir):
        if len(parts) == 3 and parts[0] == "_controls":
            controls.setdefault(parts[1], []).append(entry)
        elif len(parts) == 2 and parts[1].endswith(".json"):
            pairs.setdefault((parts[0], parts[1][:-5]), []).append("result " + entry)
        else:
            rest.append("results/" + entry)
    for name in ("solutions", "adapters"):
        for parts, entry in _walk(root / name):
            if len(parts) >= 3:
                pairs.setdefault((parts[0], parts[1]), []).append(f"{name} {entry}")
            elif name == "solutions":
                base_parts.append(f"solutions/{entry}")  # model.toml and other files of a model
            else:
                rest.append(f"adapters/{entry}")
    base = _hash(*base_parts)
    pair_keys = {k: _hash(*v) for k, v in pairs.items()}
    control_keys = {k: _hash(*v) for k, v in controls.items()}
    everything = _hash(base, *(f"{m}/{c}={k}" for (m, c), k in sorted(pair_keys.items())),
                       *(f"{c}={k}" for c, k in sorted(control_keys.items())), *rest)
    return Fingerprint(base, pair_keys, control_keys, everything)
