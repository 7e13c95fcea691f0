"""The cuda kind's own tests: each .cu with a main() is built and run on the GPU; a program
passes when it exits 0 and prints no FAIL/MISMATCH line."""
from __future__ import annotations

import re
import time
from pathlib import Path

from ...phases.base import PhaseOutcome, RunContext
from ...phases.builtin import OwnTestsPhase
from ...schema import PhaseResult, TestRecord
from .build import build_dir, drop_copy, nvcc_build, work_copy
from .diagnostics import relativise
from .machine import NO_NVCC, arch_for, nvcc_path, toolkit_root
from .sandboxed import sandbox_runner
from .sources import has_main, inside, read_text, source_files

NO_DEVICE = "no CUDA device: compiled only, the programs were not executed"


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
    start = time.monotonic()
    folder = Path(copy_dir)
    programs = [rel for rel in source_files(folder, (".cu",)) if has_main(read_text(folder / rel))]
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
    copy = work_copy(folder)
    tests: list[TestRecord] = []
    logs: list[str] = []
    deadline = start + timeout_s
    try:
        build = build_dir(copy)
        for i, rel in enumerate(programs):
            name = rel.as_posix()
            if not inside(str(copy / rel), copy):
                tests.append(TestRecord(name=name, outcome="error", message="a link to a file outside the solution"))
                continue
            text = read_text(copy / rel)
            libs = [flag for word, flag in _LIBS if word in text]
            exe = str(build / f"own_{i}_{rel.stem}")
            tail = [f"-arch={arch}", "-O2", name, "-o", exe, *libs]
            left = deadline - time.monotonic()
            if left <= 1:
                tests.append(TestRecord(name=name, outcome="not_run", message="own tests time budget used up"))
                continue
            b = nvcc_build(run, copy, tail, f"own_{i}.d", left, toolkit)
            if b.outcome == "failed" and "undefined reference" in b.output and others:
                tail = [f"-arch={arch}", "-O2", name, *others, "-o", exe, *libs]
                b = nvcc_build(run, copy, tail, f"own_{i}.d", deadline - time.monotonic(), toolkit)
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
        drop_copy(copy)
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


class OwnProgramsPhase(OwnTestsPhase):
    """The solution's own test programs (.cu files with a main), built and run on the GPU; keyed
    and reused like the Python kinds' own tests."""

    def run(self, ctx: RunContext) -> PhaseOutcome:
        """Build and run the solution's programs in the sandbox (not run without a GPU)."""
        return PhaseOutcome(own_programs_phase(ctx.source, sandbox_runner(ctx.sandbox), gpu=ctx.device,
                                               timeout_s=ctx.limits["own_tests_timeout_s"]))
