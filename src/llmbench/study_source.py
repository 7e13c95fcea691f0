"""Bring the published study onto this machine for `make study` / `llmbench study`.

The study is never stored in llmbench's repository: it is fetched at build time from its
public repository, pinned to the commit in data/study.toml, or read from a copy the user
points at (a folder, a git clone or a `.tar.gz` made by `git archive`). Without network and
without a copy, the command stops at once and says how to point it at one.
"""
from __future__ import annotations

import os
import socket
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from .errors import LlmbenchError

NETWORK_TIMEOUT_S = 3.0  # the reachability probe: "no network" must be said at once
DOWNLOAD_TIMEOUT_S = 120.0
MAX_ARCHIVE_BYTES = 512 * 1024 ** 2
# Set to 1 to behave as if there were no network (tests, air-gapped CI): nothing is contacted.
OFFLINE_ENV = "LLMBENCH_OFFLINE"


def archive_url(source: str, commit: str) -> str:
    """The tarball of a GitHub repository at a commit (short SHAs work there)."""
    return f"{source.rstrip('/')}/archive/{commit}.tar.gz"


def no_copy_message(url: str) -> str:
    """The error when there is neither network nor a local copy: how to point the command at a copy."""
    return (f"no network to fetch the study ({url}), and no local copy given. Point it at a copy: "
            "`make study STUDY=/path/to/llm_programming_tests` (a folder, a git clone, or the .tar.gz made by "
            "`git archive`), or `llmbench study --source PATH`.")


def reachable(url: str, timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """Whether the host of url answers on its port within timeout seconds (DNS included)."""
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return False
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # getaddrinfo has no timeout of its own
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(old)


def _download(url: str, into: Path) -> Path:
    target = into / "study.tar.gz"
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, target.open("wb") as out:
            total = 0
            while chunk := resp.read(1 << 20):
                total += len(chunk)
                if total > MAX_ARCHIVE_BYTES:
                    raise LlmbenchError(f"{url}: larger than {MAX_ARCHIVE_BYTES >> 20} MiB; download it yourself "
                                        "and pass it with STUDY=")
                out.write(chunk)
    except OSError as exc:
        raise LlmbenchError(f"could not download {url} ({exc}); {no_copy_message(url)}") from None
    return target


def _extract(archive: Path, into: Path) -> Path:
    """Extract a .tar.gz safely (no links out, no absolute paths, no devices); returns the
    folder holding the study: the archive's single top folder, or the extraction root."""
    dest = into / "study"
    dest.mkdir()

    def safe(member, path):
        # What the "data" filter refuses (links leaving the tree, devices) is left out, not fatal:
        # the importer never follows links anyway.
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError:
            return None

    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(dest, filter=safe)
    except (tarfile.TarError, OSError) as exc:
        raise LlmbenchError(f"{archive}: not a readable .tar.gz ({exc}); pass the study's folder or its archive") \
            from None
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def _head(folder: Path) -> str:
    if not (folder / ".git").exists():
        return ""
    proc = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                          env=dict(os.environ, GIT_TERMINAL_PROMPT="0"))
    return proc.stdout.strip() if proc.returncode == 0 else ""


class StudyCopy:
    """A context manager yielding (folder, description) of a study copy on disk; temporary
    downloads and extractions are removed on exit."""

    def __init__(self, source: str | None, url_source: str, commit: str):
        self.source, self.url_source, self.commit = source, url_source, commit
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> tuple[Path, str, list[str]]:
        notes: list[str] = []
        if self.source:
            path = Path(self.source).expanduser()
            if path.is_dir():
                head = _head(path)
                if head and self.commit and not head.startswith(self.commit):
                    notes.append(f"{path} is a clone at commit {head[:12]}, not the study's pinned {self.commit}: "
                                 f"its facts refer to {self.commit} (git -C {path} checkout {self.commit})")
                return path.resolve(), str(path), notes
            if path.is_file():
                tmp = self._temp()
                return _extract(path, tmp), str(path), notes
            raise LlmbenchError(f"STUDY={self.source}: no such folder or file; pass the study's folder, a git clone "
                                "or its .tar.gz")
        if not self.url_source or not self.commit:
            raise LlmbenchError("data/study.toml gives no source and commit to fetch; pass STUDY=PATH")
        url = archive_url(self.url_source, self.commit)
        if not reachable(url):
            raise LlmbenchError(no_copy_message(url))
        tmp = self._temp()
        return _extract(_download(url, tmp), tmp), f"{url}", notes

    def _temp(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="llmbench-study-")
        return Path(self._tmp.name)

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
