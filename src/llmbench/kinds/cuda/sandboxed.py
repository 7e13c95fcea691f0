"""How the cuda kind's phases run commands: `run(argv, *, workdir, timeout_s, ...)` returning a
`llmbench.sandbox.RunOutcome`, in the sandbox (`sandbox_runner`) or, for trusted code only
(our reference, tests), directly (`local_run`)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ...sandbox import Limits, RunOutcome, Sandbox


def sandbox_runner(sandbox: Sandbox):
    """A `run` callable executing a non-Python command (nvcc, a built program) in `sandbox`."""

    def run(argv, *, workdir: Path, timeout_s: float, memory_mb: int | None = None, ro=(), rw=()) -> RunOutcome:
        return sandbox.run(list(argv), workdir=workdir, limits=Limits(wall_s=timeout_s, memory_mb=memory_mb),
                           ro=list(ro), rw=list(rw), python=False)

    return run


def local_run(argv, *, workdir: Path, timeout_s: float, memory_mb: int | None = None, ro=(), rw=()) -> RunOutcome:
    """The `run` interface without a sandbox: only for trusted code (our reference, tests)."""
    start = time.monotonic()
    try:
        p = subprocess.run(list(argv), cwd=workdir, capture_output=True, text=True, errors="replace",
                           timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return RunOutcome(None, True, time.monotonic() - start, out, err, reason=f"timed out after {timeout_s:g} s")
    except OSError as exc:
        return RunOutcome(None, False, time.monotonic() - start, "", str(exc), reason=f"could not start: {exc}")
    reason = "" if p.returncode == 0 else f"exit code {p.returncode}"
    return RunOutcome(p.returncode, False, time.monotonic() - start, p.stdout, p.stderr, reason=reason)
