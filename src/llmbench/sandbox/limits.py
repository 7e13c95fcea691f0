"""What a sandboxed process may use (`Limits`), how it ended (`RunOutcome`, `describe_exit`), and
setting rlimits safely."""
from __future__ import annotations

import resource
import signal
from dataclasses import dataclass


@dataclass
class Limits:
    """Resource limits of one sandboxed process.

    Attributes:
        wall_s: Wall-clock limit, enforced by the harness.
        cpu_s: CPU-time limit (RLIMIT_CPU); None means twice `wall_s` (threads may use both cores).
        memory_mb: Address-space limit (RLIMIT_AS); None for CUDA, which it breaks.
        nproc: Processes (RLIMIT_NPROC, and the pids cgroup).
        fsize_mb: Largest file it may write.
        tmpfs_mb: Size of its /tmp under bubblewrap.
    """
    wall_s: float = 60.0
    cpu_s: float | None = None  # defaults to wall_s * 2 (threads may use both cores)
    memory_mb: int | None = 4096  # RLIMIT_AS; None for CUDA (it breaks CUDA initialisation)
    nproc: int = 64
    fsize_mb: int = 256
    tmpfs_mb: int = 256


@dataclass
class RunOutcome:
    """How a sandboxed process ended, measured from outside.

    Attributes:
        returncode: Exit code; None when it timed out.
        timed_out: It ran past its wall-time limit.
        duration_s: Wall time.
        stdout: Tail of its standard output.
        stderr: Tail of its standard error.
        truncated_bytes: Output bytes not kept.
        reason: Why it ended, in words (a signal, a limit, a timeout), or empty for a clean exit.
    """
    returncode: int | None
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    truncated_bytes: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Exited with 0 within its time."""
        return self.returncode == 0 and not self.timed_out


def set_limit(res: int, soft: int, hard: int | None = None) -> None:
    """setrlimit, never above an inherited hard limit: raising one needs CAP_SYS_RESOURCE,
    which even root may lack (containers), and failing here would fail every call of the
    solution with "Exception occurred in preexec_fn" (the solution's fault, seemingly)."""
    hard = soft if hard is None else hard
    _, inherited = resource.getrlimit(res)
    if inherited != resource.RLIM_INFINITY:
        soft, hard = min(soft, inherited), min(hard, inherited)
    resource.setrlimit(res, (soft, hard))


def describe_exit(rc: int | None, timed_out: bool, limits: Limits, stderr: str = "") -> str:
    """Plain words for how a sandboxed process ended."""
    if timed_out:
        return f"timeout after {limits.wall_s:g} s"
    if rc is None or rc == 0:
        return ""
    if rc < 0:
        sig = -rc
        if sig == signal.SIGXCPU:
            return "CPU time limit exceeded"
        if sig == signal.SIGKILL:
            return "killed (SIGKILL): memory or CPU limit, or killed itself"
        if sig == signal.SIGSEGV:
            return "crashed (segmentation fault)"
        try:
            return f"killed by signal {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    if "MemoryError" in stderr[-4000:]:
        return "memory limit (MemoryError)"
    if 128 < rc <= 128 + 64:  # bwrap reports a command killed by signal N as exit status 128 + N
        return f"{describe_exit(128 - rc, False, limits)} (exit status {rc})"
    return f"exit status {rc}"
