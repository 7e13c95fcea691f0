"""Facts about the machine for the cuda kind: the GPU, nvcc, the toolkit, the target architecture."""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

DEFAULT_ARCH = "sm_90"  # compiling without a GPU targets this
NO_NVCC = "nvcc not found"


def detect_gpu() -> dict | None:
    """{"name", "driver", "memory_mb", "compute_cap"} of the first GPU, or None."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    for fields in ("name,driver_version,memory.total,compute_cap", "name,driver_version,memory.total"):
        try:
            out = subprocess.run([exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        line = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0]:
            try:
                memory = int(float(parts[2]))
            except ValueError:
                memory = 0
            cap = parts[3] if len(parts) > 3 and re.fullmatch(r"\d+\.\d+", parts[3]) else ""
            return {"name": parts[0], "driver": parts[1], "memory_mb": memory, "compute_cap": cap}
    return None


def nvcc_path() -> str | None:
    """Path of nvcc: on PATH, else under $CUDA_HOME, $CUDA_PATH or /usr/local/cuda; None when absent."""
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and Path(root, "bin", "nvcc").is_file():
            return str(Path(root, "bin", "nvcc"))
    return None


def nvcc_version() -> str | None:
    """'13.0.88' (or the release line) of the nvcc on PATH; None without nvcc."""
    exe = nvcc_path()
    return None if exe is None else _nvcc_version(exe)


@functools.lru_cache(maxsize=8)
def _nvcc_version(exe: str) -> str | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"V(\d+\.\d+\.\d+)", out.stdout) or re.search(r"release (\d+\.\d+)", out.stdout)
    return m.group(1) if m else None


def toolkit_root() -> Path | None:
    """The CUDA toolkit folder (holding include/ and lib64/) of the nvcc on PATH."""
    exe = nvcc_path()
    return None if exe is None else _toolkit_root(exe)


@functools.lru_cache(maxsize=8)
def _toolkit_root(exe: str) -> Path:
    try:
        out = subprocess.run([exe, "-dryrun", "-E", "-x", "cu", os.devnull], capture_output=True, text=True,
                             timeout=60)
        m = re.search(r"^#\$ TOP=(.+)$", out.stdout + out.stderr, re.MULTILINE)
        if m:
            return Path(os.path.realpath(m.group(1).strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    return Path(os.path.realpath(exe)).parent.parent


def toolkit_paths() -> list[Path]:
    """What a sandbox must bind read-only for nvcc to work: its folder and the toolkit."""
    exe = nvcc_path()
    if exe is None:
        return []
    paths = {Path(exe).parent, Path(os.path.realpath(exe)).parent}
    root = toolkit_root()
    if root is not None:
        paths.add(root)
    return sorted(paths)


def arch_for(gpu: dict | None) -> str:
    """The ``sm_XY`` architecture for a GPU's compute capability, or `DEFAULT_ARCH` when unknown."""
    cap = (gpu or {}).get("compute_cap", "")
    m = re.fullmatch(r"(\d+)\.(\d+)", cap or "")
    return f"sm_{m.group(1)}{m.group(2)}" if m else DEFAULT_ARCH


@functools.lru_cache(maxsize=1)
def gpu_facts() -> dict:
    """GPU name, driver and nvcc version (empty strings when absent): the toolchain facts of a
    cuda run's key and provenance."""
    gpu = detect_gpu() or {}
    return {"gpu": gpu.get("name", ""), "driver": gpu.get("driver", ""), "nvcc": nvcc_version() or ""}
