"""Worker side of the cuda kind: build a solution's kernel into a shared library and hand its
entry points to the worker.

The challenge says which C symbol the library must export and which module of its folder
wraps that symbol into the canonical Python entry points (``[cuda] symbol`` and ``host`` in
challenge.toml). The host module defines ``entry_points(kernel, runtime) -> dict``: `kernel`
is the ctypes function, `runtime` a `CudaRuntime`. Sources: an adapter's .cu files (compiled
with ``-I <solution folder>``, so they can include the model's kernel), else the solution's
.cu files that define the symbol. Runs inside the sandboxed worker, never in the harness.
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import subprocess
from pathlib import Path

from .diagnostics import first_errors, relativise
from .machine import NO_NVCC, nvcc_path, toolkit_root
from .runtime import CudaError, CudaRuntime
from .sources import defines_entry, read_text, source_files

BUILD_DIR = ".llmbench_build"


def library_sources(solution_dir: Path, adapter_dir: Path | None, symbol: str) -> tuple[list[Path], list[str]]:
    """The sources to build and extra nvcc flags.

    Returns:
        The adapter's .cu files with ``-I <solution>``, else the solution's .cu files that
        define `symbol` with no extra flags.
    """
    if adapter_dir is not None and Path(adapter_dir).is_dir():
        adapter = [Path(adapter_dir) / rel for rel in source_files(Path(adapter_dir), (".cu",))]
        if adapter:
            return adapter, ["-I", str(solution_dir)]
    own = [solution_dir / rel for rel in source_files(solution_dir, (".cu",))]
    return [p for p in own if defines_entry(read_text(p), symbol)], []


def build_library(solution_dir: Path, adapter_dir: Path | None, arch: str, symbol: str,
                  timeout_s: float = 600) -> Path | None:
    """nvcc -shared the symbol's sources into solution_dir/.llmbench_build (cached by content).

    Returns:
        The library's path, or None when no source defines the symbol (an adapter is needed).

    Raises:
        CudaError: nvcc is missing, timed out or failed (with its first errors).
    """
    sources, flags = library_sources(solution_dir, adapter_dir, symbol)
    if not sources:
        return None
    nvcc = nvcc_path()
    if nvcc is None:
        raise CudaError(NO_NVCC)
    root = toolkit_root()
    rpath = ["-Xlinker", f"-rpath,{root / 'lib64'}"] if root is not None else []
    argv_flags = ["-shared", "-Xcompiler", "-fPIC", "-O3", f"-arch={arch}", "-cudart", "shared", *flags, *rpath]
    digest = hashlib.sha256(" ".join(argv_flags).encode())
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    build = solution_dir / BUILD_DIR
    build.mkdir(exist_ok=True)
    lib = build / f"lib{symbol}_{digest.hexdigest()[:16]}.so"
    if lib.exists():
        return lib
    tmp = build / f".{lib.name}.{os.getpid()}.tmp"
    env = {**os.environ, "TMPDIR": os.environ.get("TMPDIR") or "/tmp"}
    try:
        p = subprocess.run([nvcc, *argv_flags, *map(str, sources), "-o", str(tmp)], cwd=solution_dir,
                           capture_output=True, text=True, errors="replace", timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise CudaError(f"nvcc did not build the library within {timeout_s:g} s") from None
    if p.returncode != 0:
        tmp.unlink(missing_ok=True)
        text = relativise(p.stdout + p.stderr, solution_dir)
        raise CudaError("nvcc could not build the kernel library:\n" + first_errors(text))
    os.replace(tmp, lib)
    return lib


def load_host_module(path: Path):
    """Import the challenge's host module (trusted content, copied next to the worker)."""
    spec = importlib.util.spec_from_file_location("llmbench_challenge_host", path)
    if spec is None or spec.loader is None:
        raise CudaError(f"cannot load the challenge's host module {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_entry_points(solution_dir: Path, adapter_dir: Path | None, support_dir: Path | None,
                      options: dict) -> dict:
    """The canonical entry points of a compiled solution.

    Args:
        solution_dir: The worker's copy of the solution (the library is built inside it).
        adapter_dir: The adapter's folder, or None.
        support_dir: The folder holding the challenge's files the worker received.
        options: The challenge's ``[cuda]`` table (``symbol``, ``host``).

    Returns:
        ``{entry name: callable}``; empty when no source defines the symbol (needs an adapter).
    """
    if not options.get("symbol") or not options.get("host"):
        raise CudaError("the challenge names no host ABI: add [cuda] symbol and host to its challenge.toml")
    symbol, host = options["symbol"], options["host"]
    solution_dir = Path(solution_dir)
    rt = CudaRuntime()
    lib_path = build_library(solution_dir, Path(adapter_dir) if adapter_dir else None, rt.arch(), symbol)
    if lib_path is None:
        return {}
    lib = ctypes.CDLL(str(lib_path))
    try:
        kernel = getattr(lib, symbol)
    except AttributeError:
        return {}  # defined with C++ linkage or under another name: needs an adapter
    module = load_host_module(Path(support_dir or ".") / host)
    return dict(module.entry_points(kernel, rt))


def load_for_challenge(solution_dir: Path, adapter_dir: Path | None, challenge_dir: Path) -> dict:
    """`load_entry_points` for trusted local use (bench scripts): options read from the
    challenge's own challenge.toml."""
    import tomllib

    data = tomllib.loads((Path(challenge_dir) / "challenge.toml").read_text(encoding="utf-8"))
    return load_entry_points(solution_dir, adapter_dir, challenge_dir, data[data["kind"]])
