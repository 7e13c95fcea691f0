"""The cuda kind: compile phase, the solution's own test programs, and the worker's loader.

Trusted side (runner): `compile_phase` and `own_programs_phase` run nvcc and the built
programs through `run(argv, *, workdir, timeout_s)`, a callable that executes argv in the
sandbox and returns an object with returncode, timed_out, stdout, stderr, reason and
duration_s. Both work on their own throwaway copy of the solution.

Worker side (sandboxed): `load_entry_points` builds the adapter's or the solution's .cu
files into a shared library exposing the canonical host ABI

    extern "C" int fused_softmax_topk(const float* logits, int rows, int vocab, int k,
                                      int* top_idx, float* top_prob);   // device pointers

and wraps it with ctypes (libcudart through ctypes for allocation, copies and events).
An adapter (adapters/<model>/fuse/*.cu) is compiled with -I <solution folder>, so it can
`#include "their_kernel.cu"` (after `#define main their_main` if that file has a main).

No GPU: compiling still works (arch sm_90); the runtime phases are not_run "no CUDA device".
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ENTRY = "fused_softmax_topk"
BENCH_ENTRY = "benchmark_fused_softmax_topk"
BUILD_DIR = ".llmbench_build"
NO_DEVICE = "no CUDA device: compiled only, the programs were not executed"
NO_NVCC = "nvcc not found"
DEFAULT_ARCH = "sm_90"
MAX_ERROR_LINES = 12
SYSTEM_HEADER_ROOTS = ("/usr/include", "/usr/lib/gcc", "/usr/local/include", "/usr/lib/llvm")
WITHHELD = "compiler output withheld: the build read files outside the solution"


# -- facts about the machine --------------------------------------------------------------

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
    cap = (gpu or {}).get("compute_cap", "")
    m = re.fullmatch(r"(\d+)\.(\d+)", cap or "")
    return f"sm_{m.group(1)}{m.group(2)}" if m else DEFAULT_ARCH


# -- running nvcc without a sandbox (tests, offline checks) ---------------------------------

@dataclass
class LocalOutcome:
    returncode: int | None
    timed_out: bool
    stdout: str
    stderr: str
    reason: str
    duration_s: float


def local_run(argv, *, workdir: Path, timeout_s: float, memory_mb: int | None = None, ro=(), rw=()) -> LocalOutcome:
    """The `run` interface without a sandbox: only for trusted code (our reference, tests)."""
    start = time.monotonic()
    try:
        p = subprocess.run(list(argv), cwd=workdir, capture_output=True, text=True, errors="replace",
                           timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return LocalOutcome(None, True, out, err, f"timed out after {timeout_s:g} s", time.monotonic() - start)
    except OSError as exc:
        return LocalOutcome(None, False, "", str(exc), f"could not start: {exc}", time.monotonic() - start)
    reason = "" if p.returncode == 0 else f"exit code {p.returncode}"
    return LocalOutcome(p.returncode, False, p.stdout, p.stderr, reason, time.monotonic() - start)


# -- reading sources --------------------------------------------------------------------------

_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
_MAIN = re.compile(r"(?<![\w.:>])main\s*\(")
_ENTRY_DEF = re.compile(r"\b" + ENTRY + r"\s*\([^;{}]*\)\s*\{")
_PREPROCESSOR_WORDS = {"include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif", "pragma",
                       "error", "warning", "line"}


def strip_comments(text: str) -> str:
    """Source without comments; string and char literals emptied (kept as "" / '')."""
    def repl(m: re.Match) -> str:
        s = m.group(0)
        if s.startswith("//"):
            return ""
        if s.startswith("/*"):
            return "\n" * s.count("\n")
        return s[0] * 2
    return _COMMENT_OR_STRING.sub(repl, text)


def has_main(text: str) -> bool:
    return bool(_MAIN.search(strip_comments(text)))


def defines_entry(text: str) -> bool:
    return bool(_ENTRY_DEF.search(strip_comments(text)))


def looks_like_markdown(text: str) -> bool:
    """A Markdown document saved as .cu: headings, fences or lists before any code."""
    lines = [ln for ln in text.splitlines() if ln.strip()][:40]
    if not lines:
        return False
    fences = sum(1 for ln in lines if ln.lstrip().startswith("```"))
    first = lines[0].lstrip()
    m = re.match(r"#{1,6}\s+(\w+)", first)
    heading = bool(m) and m.group(1) not in _PREPROCESSOR_WORDS
    return heading or fences >= 1


def _inside(path: str, root: Path) -> bool:
    real = os.path.realpath(path)
    root_s = os.path.realpath(root)
    return real == root_s or real.startswith(root_s.rstrip("/") + "/")


def source_files(folder: Path, suffixes=(".cu", ".cuh")) -> list[Path]:
    """CUDA sources of a solution (relative paths), skipping our build folder and hidden ones.
    Links that lead outside the folder are listed too (compile_phase refuses them)."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if p.suffix in suffixes and (p.is_file() or p.is_symlink()):
            out.append(rel)
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# -- compiler output --------------------------------------------------------------------------

_DIAG_HEAD = re.compile(r"^(?P<path>[^\s:()][^:()]*?)(?:\((?P<l1>\d+)\)|:(?P<l2>\d+)(?::\d+)?):\s")


def _allowed_dep(path: str, copy: Path, toolkit: Path | None) -> bool:
    if _inside(path, copy):
        return True
    real = os.path.realpath(path)
    roots = list(SYSTEM_HEADER_ROOTS) + ([str(toolkit)] if toolkit else [])
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def parse_depfile(text: str) -> list[str]:
    """Prerequisites of a make-style dependency file (nvcc -MD)."""
    body = text.replace("\\\n", " ").replace("\\ ", "\0")  # escaped spaces stay inside names
    _, _, deps = body.partition(" : ") if " : " in body else body.partition(": ")
    return [d.replace("\0", " ") for d in deps.split() if d]


def filter_diagnostics(text: str, copy: Path, toolkit: Path | None) -> str:
    """Drop diagnostics (and their quoted source lines) located in files outside the copy
    and the system/toolkit headers: they could quote a file the solution should not read."""
    out, keep = [], True
    for line in text.splitlines():
        m = _DIAG_HEAD.match(line)
        if m:
            path = m.group("path")
            full = path if os.path.isabs(path) else str(copy / path)
            keep = _allowed_dep(full, copy, toolkit)
            if not keep:
                out.append("[a diagnostic located outside the solution was withheld]")
                continue
        if keep:
            out.append(line)
    return "\n".join(out)


def relativise(text: str, copy: Path) -> str:
    for prefix in {str(copy), os.path.realpath(copy)}:
        text = text.replace(prefix.rstrip("/") + "/", "").replace(prefix, ".")
    return text


def first_errors(text: str, limit: int = MAX_ERROR_LINES) -> str:
    """The first error diagnostics with their context lines (at most `limit` lines)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if re.search(r"\berror\b|fatal", ln, re.IGNORECASE)), None)
    if start is None:
        return "\n".join(lines[-limit:])
    return "\n".join(lines[start:start + limit])


@dataclass
class Build:
    """One nvcc invocation's outcome, already made safe to record."""

    outcome: str  # passed | failed | timeout
    message: str
    duration_s: float
    deps: list[str]
    output: str


def _nvcc_build(run, copy: Path, argv_tail: list[str], dep_name: str, timeout_s: float,
                toolkit: Path | None) -> Build:
    nvcc = nvcc_path() or "nvcc"
    build = build_dir(copy)
    dep_file = build / dep_name
    dep_file.unlink(missing_ok=True)  # never follows: build/ itself cannot be swapped (its parent is ours)
    res = run([nvcc, "-MD", "-MF", str(dep_file), *argv_tail], workdir=copy, timeout_s=timeout_s, rw=[build])
    deps = parse_depfile(_read_regular(dep_file))
    outside = sorted({d for d in deps if not _allowed_dep(d if os.path.isabs(d) else str(copy / d), copy, toolkit)})
    raw = (res.stdout or "") + ("\n" if res.stdout and res.stderr else "") + (res.stderr or "")
    if outside:
        shown = ", ".join(relativise(d, copy) for d in outside[:5])
        return Build("failed", f"includes files outside the solution: {shown} ({WITHHELD})", res.duration_s,
                     deps, WITHHELD)
    output = relativise(relativise(filter_diagnostics(raw, copy, toolkit), copy), copy.parent)
    if res.timed_out:
        return Build("timeout", f"nvcc timed out ({res.reason})", res.duration_s, deps, output)
    if res.returncode == 0:
        return Build("passed", "", res.duration_s, deps, output)
    message = first_errors(output) or (res.reason or f"nvcc exit code {res.returncode}")
    return Build("failed", message, res.duration_s, deps, output)


def _work_copy(folder: Path) -> Path:
    """A throwaway copy of the solution, and next to it (in the copy's root-owned parent, out
    of the solution's reach) the build folder: a program of the solution could replace a
    build folder inside its copy with a link before the trusted side reads or deletes there."""
    from ..sandbox import make_copy

    copy = make_copy(folder)
    build_dir(copy).mkdir(mode=0o755)
    return copy


def build_dir(copy: Path) -> Path:
    """Where nvcc writes objects, programs and dependency files for a work copy."""
    return copy.parent / "build"


def _read_regular(path: Path, limit: int = 4 << 20) -> str:
    """A file the sandbox wrote, read by the trusted side: never through a link, never a
    FIFO or device, at most `limit` bytes; "" otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _drop_copy(copy: Path) -> None:
    from ..sandbox import remove_copy

    remove_copy(copy)


_AUTO = object()


# -- phase: compile ---------------------------------------------------------------------------

def compile_phase(copy_dir: Path, run, *, timeout_s: float, gpu=_AUTO):
    """Compile every .cu (and every .cuh no .cu includes) with `nvcc -c`; no GPU needed."""
    from ..schema import PhaseResult, TestRecord

    start = time.monotonic()
    nvcc = nvcc_path()
    if nvcc is None:
        return PhaseResult(name="compile", status="not_run", reason=NO_NVCC)
    sources = source_files(Path(copy_dir))
    if not sources:
        return PhaseResult(name="compile", status="not_runnable", reason="no .cu or .cuh files")
    arch = arch_for(detect_gpu() if gpu is _AUTO else gpu)
    toolkit = toolkit_root()
    copy = _work_copy(Path(copy_dir))
    try:
        build = build_dir(copy)
        tests: list[TestRecord] = []
        errors: dict[str, str] = {}
        logs: list[str] = []
        included: dict[str, list[str]] = {}
        deadline = start + timeout_s
        ordered = [s for s in sources if s.suffix == ".cu"] + [s for s in sources if s.suffix == ".cuh"]
        for i, rel in enumerate(ordered):
            name = rel.as_posix()
            if rel.suffix == ".cuh" and name in included:
                continue  # compiled as part of the .cu files that include it
            if not _inside(str(copy / rel), copy):
                msg = f"{name} is a link to a file outside the solution; not compiled"
                tests.append(TestRecord(name=name, outcome="failed", message=msg))
                errors[name] = msg
                continue
            left = deadline - time.monotonic()
            if left <= 1:
                tests.append(TestRecord(name=name, outcome="not_run", message="compile time budget used up"))
                continue
            tail = ["-c", f"-arch={arch}"] + (["-x", "cu"] if rel.suffix == ".cuh" else [])
            tail += [name, "-o", str(build / f"{i}_{rel.stem}.o")]
            b = _nvcc_build(run, copy, tail, f"{i}_{rel.stem}.d", left, toolkit)
            for dep in b.deps:
                full = dep if os.path.isabs(dep) else str(copy / dep)
                if _inside(full, copy):
                    dep_rel = os.path.relpath(os.path.realpath(full), os.path.realpath(copy))
                    if dep_rel != name:
                        included.setdefault(Path(dep_rel).as_posix(), []).append(name)
            message = b.message
            if b.outcome != "passed" and looks_like_markdown(_read(copy / rel)):
                message = "looks like Markdown, not CUDA source\n" + message
            if b.outcome != "passed":
                errors[name] = message
                logs.append(f"$ nvcc {relativise(' '.join(tail), copy.parent)}\n{b.output}")
            tests.append(TestRecord(name=name, outcome=b.outcome, message=message, duration_s=round(b.duration_s, 3)))
    finally:
        _drop_copy(copy)
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.outcome] = counts.get(t.outcome, 0) + 1
    failed = [t for t in tests if t.outcome == "failed"]
    timed = [t for t in tests if t.outcome in ("timeout", "not_run")]
    if failed:
        status = "failed"
        first = failed[0].message.splitlines()[0] if failed[0].message else ""
        reason = f"{len(failed)} of {len(tests)} files do not compile; first: {failed[0].name}: {first}"[:500]
    elif timed:
        status, reason = "timeout", f"nvcc did not finish within {timeout_s:g} s for {timed[0].name}"
    else:
        status, reason = "ok", ""
    details = {"nvcc": nvcc_version() or "", "arch": arch, "errors": errors,
               "headers": {h: sorted(set(v)) for h, v in sorted(included.items()) if h.endswith((".cuh", ".h", ".hpp"))}}
    return PhaseResult(name="compile", status=status, reason=reason, counts=counts, tests=tests,
                       duration_s=round(time.monotonic() - start, 3), log_tail="\n".join(logs)[-8000:],
                       details=details)


# -- phase: own test programs -----------------------------------------------------------------

_FAIL_LINE = re.compile(r"\b(FAIL|FAILED|FAILURE|MISMATCH)\b")
_ZERO_FAILS = re.compile(r"\b(FAIL|FAILED|FAILURES?|MISMATCH(ES)?)\b\s*[:=]?\s*0\b|\b0\s+(FAIL|FAILED|FAILURES|MISMATCHES)\b")
_LIBS = (("curand", "-lcurand"), ("cublas", "-lcublas"))


def reports_failure(output: str) -> str | None:
    """A line where a program says it failed (upper-case FAIL/MISMATCH, not 'FAILED: 0')."""
    for line in output.splitlines():
        if _FAIL_LINE.search(line) and not _ZERO_FAILS.search(line):
            return line.strip()[:300]
    return None


def own_programs_phase(copy_dir: Path, run, *, gpu, timeout_s: float):
    """Build each .cu with a main() and run it (exit 0, no FAIL line = passed); needs a GPU."""
    from ..schema import PhaseResult, TestRecord

    start = time.monotonic()
    folder = Path(copy_dir)
    programs = [rel for rel in source_files(folder, (".cu",)) if has_main(_read(folder / rel))]
    details: dict = {"programs": [p.as_posix() for p in programs]}
    if gpu is None:
        return PhaseResult(name="own_tests", status="not_run", reason=NO_DEVICE, details=details)
    if nvcc_path() is None:
        return PhaseResult(name="own_tests", status="not_run", reason=NO_NVCC, details=details)
    if not programs:
        return PhaseResult(name="own_tests", status="not_run", reason="no own test programs (.cu with a main)",
                           details=details)
    arch = arch_for(gpu)
    toolkit = toolkit_root()
    others = [rel.as_posix() for rel in source_files(folder, (".cu",)) if rel not in programs]
    copy = _work_copy(folder)
    tests: list[TestRecord] = []
    logs: list[str] = []
    deadline = start + timeout_s
    try:
        build = build_dir(copy)
        for i, rel in enumerate(programs):
            name = rel.as_posix()
            if not _inside(str(copy / rel), copy):
                tests.append(TestRecord(name=name, outcome="error", message="a link to a file outside the solution"))
                continue
            text = _read(copy / rel)
            libs = [flag for word, flag in _LIBS if word in text]
            exe = str(build / f"own_{i}_{rel.stem}")
            tail = [f"-arch={arch}", "-O2", name, "-o", exe, *libs]
            left = deadline - time.monotonic()
            if left <= 1:
                tests.append(TestRecord(name=name, outcome="not_run", message="own tests time budget used up"))
                continue
            b = _nvcc_build(run, copy, tail, f"own_{i}.d", left, toolkit)
            if b.outcome == "failed" and "undefined reference" in b.output and others:
                tail = [f"-arch={arch}", "-O2", name, *others, "-o", exe, *libs]
                b = _nvcc_build(run, copy, tail, f"own_{i}.d", deadline - time.monotonic(), toolkit)
            if b.outcome != "passed":
                outcome = "timeout" if b.outcome == "timeout" else "error"
                tests.append(TestRecord(name=name, outcome=outcome, message="build failed: " + b.message,
                                        duration_s=round(b.duration_s, 3)))
                logs.append(f"$ nvcc {relativise(' '.join(tail), copy.parent)}\n{b.output}")
                continue
            left = deadline - time.monotonic()
            if left <= 1:
                tests.append(TestRecord(name=name, outcome="not_run", message="own tests time budget used up"))
                continue
            res = run([exe], workdir=copy, timeout_s=left, ro=[build])
            output = relativise(relativise((res.stdout or "") + (res.stderr or ""), build), copy)
            said_fail = reports_failure(output)
            if res.timed_out:
                outcome, message = "timeout", res.reason or "timed out"
            elif res.returncode != 0:
                outcome, message = "failed", f"exit code {res.returncode}: " + _tail(output)
            elif said_fail:
                outcome, message = "failed", f"exit code 0 but the program reports: {said_fail}"
            else:
                outcome, message = "passed", ""
            tests.append(TestRecord(name=name, outcome=outcome, message=message, duration_s=round(res.duration_s, 3)))
            logs.append(f"$ {relativise(exe, build.parent)}\n{output}")
    finally:
        _drop_copy(copy)
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.outcome] = counts.get(t.outcome, 0) + 1
    bad = [t for t in tests if t.outcome in ("failed", "error")]
    if bad:
        status, reason = "failed", f"{len(bad)} of {len(tests)} own test programs did not pass; first: {bad[0].name}"
    elif any(t.outcome in ("timeout", "not_run") for t in tests):
        status, reason = "timeout", f"own test programs did not finish within {timeout_s:g} s"
    else:
        status, reason = "ok", ""
    return PhaseResult(name="own_tests", status=status, reason=reason, counts=counts, tests=tests,
                       duration_s=round(time.monotonic() - start, 3), log_tail="\n".join(logs)[-8000:],
                       details=details)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join([ln for ln in text.splitlines() if ln.strip()][-lines:])


# -- worker side: the shared library and its ctypes wrapper -----------------------------------

H2D, D2H, D2D = 1, 2, 3
ATTR_CC_MAJOR, ATTR_CC_MINOR = 75, 76


ATTR_L2_CACHE_SIZE = 89  # cudaDevAttrL2CacheSize
PLAUSIBLE_OVER_COPY = 1.05  # kernel read bandwidth / copy throughput above which a figure is implausible


@dataclass(frozen=True)
class TimingRule:
    """When to stop timing: at least min_repeats calls, then stop when the spread (interquartile
    range / median) is below max_spread, or the time budget is spent, or max_repeats is reached."""

    min_repeats: int = 20
    max_repeats: int = 200
    max_spread: float = 0.05
    budget_s: float = 30.0

    def done(self, samples: list[float], elapsed_s: float) -> bool:
        n = len(samples)
        if n < self.min_repeats:
            return n >= self.max_repeats or (n >= 3 and elapsed_s >= 4 * self.budget_s)
        if n >= self.max_repeats or elapsed_s >= self.budget_s:
            return True
        return median_and_spread(samples)[1] <= self.max_spread


def median_and_spread(samples: list[float]) -> tuple[float, float]:
    """(median, interquartile range / median) of timing samples."""
    import numpy as np

    if not samples:
        return float("nan"), float("nan")
    q1, med, q3 = np.percentile(np.asarray(samples, dtype=float), [25, 50, 75])
    return float(med), float((q3 - q1) / med) if med > 0 else float("inf")


class CudaError(RuntimeError):
    pass


class CudaRuntime:
    """The few libcudart calls the harness needs, through ctypes."""

    def __init__(self):
        self.lib = _load_cudart()
        c = ctypes
        L = self.lib
        L.cudaGetErrorString.restype = c.c_char_p
        L.cudaGetErrorString.argtypes = [c.c_int]
        L.cudaMalloc.argtypes = [c.POINTER(c.c_void_p), c.c_size_t]
        L.cudaFree.argtypes = [c.c_void_p]
        L.cudaMemcpy.argtypes = [c.c_void_p, c.c_void_p, c.c_size_t, c.c_int]
        L.cudaMemset.argtypes = [c.c_void_p, c.c_int, c.c_size_t]
        L.cudaEventCreate.argtypes = [c.POINTER(c.c_void_p)]
        L.cudaEventRecord.argtypes = [c.c_void_p, c.c_void_p]
        L.cudaEventSynchronize.argtypes = [c.c_void_p]
        L.cudaEventElapsedTime.argtypes = [c.POINTER(c.c_float), c.c_void_p, c.c_void_p]
        L.cudaEventDestroy.argtypes = [c.c_void_p]
        L.cudaDeviceGetAttribute.argtypes = [c.POINTER(c.c_int), c.c_int, c.c_int]
        L.cudaMemGetInfo.argtypes = [c.POINTER(c.c_size_t), c.POINTER(c.c_size_t)]
        for fn in ("cudaMalloc", "cudaFree", "cudaMemcpy", "cudaMemset", "cudaEventCreate", "cudaEventRecord",
                   "cudaEventSynchronize", "cudaEventElapsedTime", "cudaEventDestroy", "cudaDeviceSynchronize",
                   "cudaGetLastError", "cudaDeviceGetAttribute", "cudaMemGetInfo"):
            getattr(L, fn).restype = c.c_int

    def error_string(self, code: int) -> str:
        s = self.lib.cudaGetErrorString(int(code))
        return s.decode(errors="replace") if s else f"CUDA error {code}"

    def check(self, code: int, what: str) -> None:
        if code != 0:
            raise CudaError(f"{what} failed: {self.error_string(code)} (code {code})")

    def malloc(self, nbytes: int) -> int:
        ptr = ctypes.c_void_p()
        self.check(self.lib.cudaMalloc(ctypes.byref(ptr), max(int(nbytes), 1)), f"cudaMalloc({nbytes})")
        return ptr.value

    def free(self, ptr: int | None) -> None:
        if ptr:
            self.lib.cudaFree(ctypes.c_void_p(ptr))

    def free_bytes(self) -> int:
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self.check(self.lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)), "cudaMemGetInfo")
        return int(free.value)

    def reserve_all_but(self, headroom: int) -> list[int]:
        """Allocate the device's free memory except `headroom` bytes (in pieces, so that
        fragmentation cannot stop it); free the returned pointers to give it back."""
        held, piece = [], 1 << 30
        try:
            while piece >= 2 << 20:
                want = min(piece, self.free_bytes() - int(headroom))
                if want < 2 << 20:
                    break
                ptr = ctypes.c_void_p()
                if self.lib.cudaMalloc(ctypes.byref(ptr), want) == 0:
                    held.append(ptr.value)
                else:
                    self.lib.cudaGetLastError()  # clear the failed allocation's error; try smaller pieces
                    piece //= 2
        except BaseException:
            for p in held:
                self.free(p)
            raise
        return held

    def to_device(self, dst: int, array) -> None:
        self.check(self.lib.cudaMemcpy(dst, array.ctypes.data, array.nbytes, H2D), "cudaMemcpy host->device")

    def to_host(self, array, src: int) -> None:
        self.check(self.lib.cudaMemcpy(array.ctypes.data, src, array.nbytes, D2H), "cudaMemcpy device->host")

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        self.check(self.lib.cudaMemcpy(dst, src, nbytes, D2D), "cudaMemcpy device->device")

    def synchronize(self, what: str) -> None:
        code = self.lib.cudaDeviceSynchronize()
        if code != 0:
            _fatal_if_sticky(self, code, what)

    def arch(self) -> str:
        major, minor = ctypes.c_int(), ctypes.c_int()
        if (self.lib.cudaDeviceGetAttribute(ctypes.byref(major), ATTR_CC_MAJOR, 0) != 0
                or self.lib.cudaDeviceGetAttribute(ctypes.byref(minor), ATTR_CC_MINOR, 0) != 0):
            return DEFAULT_ARCH
        return f"sm_{major.value}{minor.value}"

    def l2_bytes(self) -> int:
        """The device's L2 cache size (the flush between timed calls is sized from it)."""
        size = ctypes.c_int()
        if self.lib.cudaDeviceGetAttribute(ctypes.byref(size), ATTR_L2_CACHE_SIZE, 0) != 0 or size.value <= 0:
            return 128 << 20  # larger than any current L2
        return int(size.value)

    def event(self) -> int:
        ev = ctypes.c_void_p()
        self.check(self.lib.cudaEventCreate(ctypes.byref(ev)), "cudaEventCreate")
        return ev.value

    def elapsed_ms(self, start: int, stop: int) -> float:
        self.check(self.lib.cudaEventSynchronize(ctypes.c_void_p(stop)), "cudaEventSynchronize")
        ms = ctypes.c_float()
        self.check(self.lib.cudaEventElapsedTime(ctypes.byref(ms), ctypes.c_void_p(start), ctypes.c_void_p(stop)),
                   "cudaEventElapsedTime")
        return float(ms.value)

    def record(self, ev: int) -> None:
        self.check(self.lib.cudaEventRecord(ctypes.c_void_p(ev), None), "cudaEventRecord")


def _fatal_if_sticky(rt: CudaRuntime, code: int, what: str) -> None:
    """A kernel fault leaves the CUDA context unusable: end the worker so that the harness
    starts a fresh one for the next test (the message goes to stderr, the crash reason)."""
    text = f"{what}: {rt.error_string(code)} (code {code})"
    rt.lib.cudaGetLastError()
    if rt.lib.cudaDeviceSynchronize() != 0 and not os.environ.get("LLMBENCH_CUDA_KEEP_PROCESS"):
        sys.stderr.write(f"llmbench: CUDA context lost after {text}; the worker exits\n")
        sys.stderr.flush()
        os._exit(70)
    raise CudaError(text)


def _load_cudart() -> ctypes.CDLL:
    candidates = []
    root = toolkit_root()
    if root is not None:
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
            candidates += sorted(Path(root, sub).glob("libcudart.so*"))
    import ctypes.util

    found = ctypes.util.find_library("cudart")
    candidates += [Path(found)] if found else []
    candidates += [Path("libcudart.so"), Path("libcudart.so.13"), Path("libcudart.so.12")]
    errors = []
    for path in candidates:
        try:
            return ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    raise CudaError("libcudart not found: " + "; ".join(errors[-3:]))


def _library_sources(solution_dir: Path, adapter_dir: Path | None) -> tuple[list[Path], list[str]]:
    """(sources, extra nvcc flags): the adapter's .cu files, else the solution's files that
    define the canonical entry point."""
    if adapter_dir is not None and Path(adapter_dir).is_dir():
        adapter = [Path(adapter_dir) / rel for rel in source_files(Path(adapter_dir), (".cu",))]
        if adapter:
            return adapter, ["-I", str(solution_dir)]
    own = [solution_dir / rel for rel in source_files(solution_dir, (".cu",))]
    return [p for p in own if defines_entry(_read(p))], []


def build_library(solution_dir: Path, adapter_dir: Path | None, arch: str, timeout_s: float = 600) -> Path | None:
    """nvcc -shared the entry point's sources into solution_dir/.llmbench_build (cached by content)."""
    sources, flags = _library_sources(solution_dir, adapter_dir)
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
    lib = build / f"lib{ENTRY}_{digest.hexdigest()[:16]}.so"
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


def load_entry_points(solution_dir: Path, adapter_dir: Path | None) -> dict:
    """{"fused_softmax_topk": fn, "benchmark_fused_softmax_topk": bench}, or {} when no
    source defines the entry point (an adapter is needed)."""
    import numpy as np

    solution_dir = Path(solution_dir)
    rt = CudaRuntime()
    lib_path = build_library(solution_dir, Path(adapter_dir) if adapter_dir else None, rt.arch())
    if lib_path is None:
        return {}
    lib = ctypes.CDLL(str(lib_path))
    try:
        kernel = getattr(lib, ENTRY)
    except AttributeError:
        return {}  # defined with C++ linkage or under another name: needs an adapter
    kernel.restype = ctypes.c_int
    kernel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]

    def launch(d_x: int, rows: int, vocab: int, k: int, d_idx: int, d_prob: int) -> None:
        code = kernel(d_x, rows, vocab, k, d_idx, d_prob)
        if code != 0:
            raise CudaError(f"{ENTRY} returned {code} ({rt.error_string(code)})")

    def fused_softmax_topk(logits, k, device_headroom_mb=None):
        """device_headroom_mb: when set, all free device memory but that much is held while
        the kernel runs (after the inputs and outputs are allocated), so a kernel that needs a
        rows x V intermediate in global memory cannot get it."""
        x = np.ascontiguousarray(logits, dtype=np.float32)
        if x.ndim < 1 or x.shape[-1] == 0:
            raise ValueError("logits must have a non-empty last axis")
        k = int(k)
        vocab = int(x.shape[-1])
        rows = int(x.size // vocab)
        idx = np.empty((rows, k), dtype=np.int32)
        prob = np.empty((rows, k), dtype=np.float32)
        if rows:
            ptrs = []
            try:
                d_x = rt.malloc(x.nbytes)
                ptrs.append(d_x)
                d_idx = rt.malloc(idx.nbytes)
                ptrs.append(d_idx)
                d_prob = rt.malloc(prob.nbytes)
                ptrs.append(d_prob)
                rt.to_device(d_x, x)
                # Poison the outputs: an entry the kernel never writes reads as -1 / NaN.
                rt.check(rt.lib.cudaMemset(d_idx, 0xFF, idx.nbytes), "cudaMemset")
                rt.check(rt.lib.cudaMemset(d_prob, 0xFF, prob.nbytes), "cudaMemset")
                if device_headroom_mb is not None:
                    rt.synchronize("cudaMemset")
                    ptrs += rt.reserve_all_but(int(device_headroom_mb) << 20)
                launch(d_x, rows, vocab, k, d_idx, d_prob)
                rt.synchronize(ENTRY)
                rt.to_host(idx, d_idx)
                rt.to_host(prob, d_prob)
            finally:
                for p in ptrs:
                    rt.free(p)
        shape = x.shape[:-1] + (k,)
        return idx.reshape(shape), prob.reshape(shape)

    def benchmark_fused_softmax_topk(rows, vocab, k, repeats=20, seed=0):
        """Kernel time on (rows, vocab) logits, with timing hygiene (see TimingRule):
        fresh inputs before every timed call (a new random block in the first rows), the L2
        cache flushed between calls (a buffer twice the device's L2, overwritten), median and
        spread over at least `repeats` calls (more until the spread is small or the time
        budget is spent), the achieved bandwidth of reading the logits once, the device's
        copy throughput measured in the same call (bytes read + written per second), a
        plausibility flag when the kernel beats the copy, and the last timed call's output
        (sample rows) for the caller to re-check against the last inputs."""
        rows, vocab, k = int(rows), int(vocab), int(k)
        rule = TimingRule(min_repeats=max(int(repeats), 1))
        block_rows = min(rows, 64)
        rng = np.random.default_rng(int(seed))
        block = rng.standard_normal((block_rows, vocab), dtype=np.float32)
        nbytes = rows * vocab * 4
        ptrs = []
        events = []
        try:
            d_x = rt.malloc(nbytes)
            ptrs.append(d_x)
            d_idx = rt.malloc(rows * k * 4)
            ptrs.append(d_idx)
            d_prob = rt.malloc(rows * k * 4)
            ptrs.append(d_prob)
            flush_bytes = 2 * rt.l2_bytes()
            d_flush = rt.malloc(flush_bytes)
            ptrs.append(d_flush)
            rt.to_device(d_x, block)
            filled = block_rows
            while filled < rows:  # tile the random block over all rows, doubling on the device
                n = min(filled, rows - filled)
                rt.copy(d_x + filled * vocab * 4, d_x, n * vocab * 4)
                filled += n
            start, stop = rt.event(), rt.event()
            events += [start, stop]
            for _ in range(3):
                launch(d_x, rows, vocab, k, d_idx, d_prob)
            rt.synchronize(ENTRY)
            kernel_ms, wall_ms = [], []
            check_seed = int(seed)
            began = time.perf_counter()
            while not rule.done(kernel_ms, time.perf_counter() - began):
                # Fresh inputs: a result cache keyed on shapes or pointers answers the old rows.
                check_seed = int(seed) + 1 + len(kernel_ms)
                block = np.random.default_rng(check_seed).standard_normal((block_rows, vocab), dtype=np.float32)
                rt.to_device(d_x, block)
                rt.check(rt.lib.cudaMemset(d_flush, len(kernel_ms) & 0xFF, flush_bytes), "cudaMemset")  # flush L2
                rt.check(rt.lib.cudaMemset(d_idx, 0xFF, rows * k * 4), "cudaMemset")  # stale outputs read as -1
                rt.synchronize(ENTRY)
                t0 = time.perf_counter()
                rt.record(start)
                launch(d_x, rows, vocab, k, d_idx, d_prob)
                rt.record(stop)
                kernel_ms.append(rt.elapsed_ms(start, stop))
                rt.synchronize(ENTRY)
                wall_ms.append((time.perf_counter() - t0) * 1e3)
            sample_rows = min(rows, 4)
            s_idx = np.empty((sample_rows, k), dtype=np.int32)
            s_prob = np.empty((sample_rows, k), dtype=np.float32)
            rt.check(rt.lib.cudaMemcpy(s_idx.ctypes.data, d_idx, s_idx.nbytes, D2H), "cudaMemcpy")
            rt.check(rt.lib.cudaMemcpy(s_prob.ctypes.data, d_prob, s_prob.nbytes, D2H), "cudaMemcpy")
            d_copy = rt.malloc(nbytes)
            ptrs.append(d_copy)
            copy_ms = []
            for i in range(max(rule.min_repeats, 5) + 2):
                rt.check(rt.lib.cudaMemset(d_flush, i & 0xFF, flush_bytes), "cudaMemset")
                rt.record(start)
                rt.copy(d_copy, d_x, nbytes)
                rt.record(stop)
                if i >= 2:
                    copy_ms.append(rt.elapsed_ms(start, stop))
        finally:
            rt.lib.cudaDeviceSynchronize()
            for p in ptrs:
                rt.free(p)
            for ev in events:
                rt.lib.cudaEventDestroy(ctypes.c_void_p(ev))
        k_ms, k_spread = median_and_spread(kernel_ms)
        w_ms, _ = median_and_spread(wall_ms)
        # Events on the default stream miss work the solution queues on its own non-blocking
        # stream; then the host clock (which includes the final synchronisation) is the honest time.
        timed_ms = k_ms if k_ms >= 0.5 * w_ms else w_ms
        c_ms, _ = median_and_spread(copy_ms)
        logits_gbps, copy_gbps = nbytes / (timed_ms * 1e6), 2 * nbytes / (c_ms * 1e6)
        return {"kernel_ms": timed_ms, "event_ms": k_ms, "wall_ms": w_ms, "spread": k_spread,
                "logits_gbps": logits_gbps, "copy_gbps": copy_gbps,
                # Reading the logits once cannot beat a copy that reads them and writes them back
                # by much: faster means the work or the timing was skipped.
                "plausible": bool(logits_gbps <= PLAUSIBLE_OVER_COPY * copy_gbps),
                "bytes": nbytes, "repeats": len(kernel_ms), "block_rows": block_rows, "check_seed": check_seed,
                "flush_bytes": flush_bytes, "sample_idx": s_idx, "sample_prob": s_prob}

    return {ENTRY: fused_softmax_topk, BENCH_ENTRY: benchmark_fused_softmax_topk}
