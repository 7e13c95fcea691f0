"""The cuda kind's compile phase: every .cu (and every .cuh no .cu includes) with nvcc -c, in the
sandbox; needs no GPU."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ...keys import HARNESS, ISOLATION, LIMITS, SOLUTION, TOOLCHAIN
from ...phases.base import Phase, PhaseOutcome, RunContext
from ...schema import PhaseResult, TestRecord
from .build import build_dir, drop_copy, nvcc_build, work_copy
from .diagnostics import relativise
from .machine import NO_NVCC, arch_for, detect_gpu, nvcc_path, nvcc_version, toolkit_root
from .sandboxed import sandbox_runner
from .sources import inside, looks_like_markdown, read_text, source_files

_AUTO = object()  # compile_phase's gpu default: ask the machine


def compile_phase(copy_dir: Path, run, *, timeout_s: float, gpu=_AUTO):
    """Compile every .cu (and every .cuh no .cu includes) with `nvcc -c`; no GPU needed."""
    start = time.monotonic()
    nvcc = nvcc_path()
    if nvcc is None:
        return PhaseResult(name="compile", status="not_run", reason=NO_NVCC)
    sources = source_files(Path(copy_dir))
    if not sources:
        return PhaseResult(name="compile", status="not_runnable", reason="no .cu or .cuh files")
    arch = arch_for(detect_gpu() if gpu is _AUTO else gpu)
    toolkit = toolkit_root()
    copy = work_copy(Path(copy_dir))
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
            if not inside(str(copy / rel), copy):
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
            b = nvcc_build(run, copy, tail, f"{i}_{rel.stem}.d", left, toolkit)
            for dep in b.deps:
                full = dep if os.path.isabs(dep) else str(copy / dep)
                if inside(full, copy):
                    dep_rel = os.path.relpath(os.path.realpath(full), os.path.realpath(copy))
                    if dep_rel != name:
                        included.setdefault(Path(dep_rel).as_posix(), []).append(name)
            message = b.message
            if b.outcome != "passed" and looks_like_markdown(read_text(copy / rel)):
                message = "looks like Markdown, not CUDA source\n" + message
            if b.outcome != "passed":
                errors[name] = message
                logs.append(f"$ nvcc {relativise(' '.join(tail), copy.parent)}\n{b.output}")
            tests.append(TestRecord(name=name, outcome=b.outcome, message=message, duration_s=round(b.duration_s, 3)))
    finally:
        drop_copy(copy)
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


class CompilePhase(Phase):
    """Compile the solution's CUDA sources (no GPU needed); the first phase of a cuda run."""

    name = "compile"
    inputs = (HARNESS, SOLUTION, ISOLATION, TOOLCHAIN, LIMITS)
    limits = ("own_tests_timeout_s",)
    judges_behaviour = False  # compiling says nothing about what the kernel computes

    def run(self, ctx: RunContext) -> PhaseOutcome:
        """Compile a copy of ``ctx.source`` with nvcc in the sandbox."""
        return PhaseOutcome(compile_phase(ctx.source, sandbox_runner(ctx.sandbox),
                                          timeout_s=ctx.limits["own_tests_timeout_s"], gpu=ctx.device))
