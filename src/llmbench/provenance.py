"""Provenance of a run: versions, machine, isolation."""
from __future__ import annotations

from typing import TYPE_CHECKING

import datetime as _dt
import functools
import hashlib
import platform
import socket
import subprocess
import sys
from pathlib import Path

import llmbench

from .schema import Provenance

if TYPE_CHECKING:
    from .kinds import Kind


@functools.lru_cache(maxsize=4)
def git_commit(root: Path) -> str:
    """The repository's short HEAD commit, with ``+dirty`` when tracked files changed; ``"unknown"`` without git."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def numpy_version() -> str:
    """NumPy's version, read from its installed metadata: planning a run never imports NumPy (~0.12 s)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numpy")
    except PackageNotFoundError:
        import numpy

        return numpy.__version__


@functools.lru_cache(maxsize=1)
def blas_threads() -> int | None:
    """Threads the BLAS libraries may use (via threadpoolctl), or None when it is not installed or finds none."""
    try:
        from threadpoolctl import threadpool_info  # optional

        import numpy  # noqa: F401 - threadpoolctl sees only the BLAS libraries already loaded (planning no longer loads NumPy)

        return sum(i.get("num_threads", 0) for i in threadpool_info() if i.get("user_api") == "blas") or None
    except Exception:  # noqa: BLE001
        return None


def environment_facts(isolation: str, kind: "Kind") -> dict:
    """The environment facts that can change outcomes: part of every result key.

    Args:
        isolation: The sandbox's short isolation name.
        kind: The challenge's kind, which adds its own facts (a GPU's name, a compiler's version).
    """
    facts = {"isolation": isolation, "numpy": numpy_version(), "python": platform.python_version()}
    facts.update(kind.environment_facts())
    return facts


def provenance(root: Path, suite_version: str, isolation: str, kind: "Kind") -> Provenance:
    """Where and how a result was produced (recorded in it; shown on the site)."""
    facts = kind.environment_facts()
    g = {name: facts.get(name, "") for name in ("gpu", "driver", "nvcc")}
    return Provenance(
        llmbench_version=llmbench.__version__,
        harness_version=llmbench.HARNESS_VERSION,
        suite_version=suite_version,
        commit=git_commit(root),
        date=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        python=sys.version.split()[0],
        numpy=numpy_version(),
        blas_threads=blas_threads(),
        cpu=cpu_model(),
        gpu=g["gpu"],
        driver=g["driver"],
        nvcc=g["nvcc"],
        isolation=isolation,
        hostname_hash=hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8],
    )
