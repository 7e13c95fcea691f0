"""Provenance of a run: versions, machine, isolation."""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import platform
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

import llmbench

from .schema import Provenance


@functools.lru_cache(maxsize=4)
def git_commit(root: Path) -> str:
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
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info  # optional

        return sum(i.get("num_threads", 0) for i in threadpool_info() if i.get("user_api") == "blas") or None
    except Exception:  # noqa: BLE001
        return None


@functools.lru_cache(maxsize=1)
def gpu_facts() -> dict:
    """GPU name, driver and nvcc version; empty strings when absent."""
    try:
        from .kinds import cuda

        gpu = cuda.detect_gpu() or {}
        nvcc = cuda.nvcc_version() or ""
    except Exception:  # noqa: BLE001 - the cuda kind module is optional
        gpu, nvcc = {}, ""
    return {"gpu": gpu.get("name", ""), "driver": gpu.get("driver", ""), "nvcc": nvcc}


def environment_facts(isolation: str, kind: str) -> dict:
    """The environment facts that can change outcomes: part of every result key."""
    facts = {"isolation": isolation, "numpy": np.__version__, "python": platform.python_version()}
    if kind == "cuda":
        facts.update(gpu_facts())
    return facts


def provenance(root: Path, suite_version: str, isolation: str, kind: str) -> Provenance:
    g = gpu_facts() if kind == "cuda" else {"gpu": "", "driver": "", "nvcc": ""}
    return Provenance(
        llmbench_version=llmbench.__version__,
        harness_version=llmbench.HARNESS_VERSION,
        suite_version=suite_version,
        commit=git_commit(root),
        date=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        python=sys.version.split()[0],
        numpy=np.__version__,
        blas_threads=blas_threads(),
        cpu=cpu_model(),
        gpu=g["gpu"],
        driver=g["driver"],
        nvcc=g["nvcc"],
        isolation=isolation,
        hostname_hash=hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8],
    )
