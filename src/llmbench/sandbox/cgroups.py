"""A pids cgroup per sandboxed process tree (best effort)."""
from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path


class PidsCgroup:
    """Best effort: a pids cgroup caps the process count even where RLIMIT_NPROC cannot
    (processes of outside-root in a user namespace). Silently absent when not writable."""

    ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))

    def __init__(self, max_pids: int):
        self.path: Path | None = None
        for root in self.ROOTS:
            if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
                continue
            controllers = root / "cgroup.controllers"  # cgroup v2: pids must be enabled there
            if root.name != "pids" and "pids" not in (controllers.read_text() if controllers.exists() else ""):
                continue
            try:
                path = Path(tempfile.mkdtemp(prefix="llmbench-", dir=root))
                (path / "pids.max").write_text(str(max_pids))
                self.path = path
                break
            except OSError:
                continue

    def enter(self) -> None:  # called in the child before exec
        """Move the calling process into the cgroup; runs in the child before exec. Failure is ignored."""
        if self.path is not None:
            try:
                (self.path / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass

    def kill_all(self) -> None:
        """Kill every process in the cgroup until it is empty, then remove it."""
        if self.path is None:
            return
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        try:
            self.path.rmdir()
        except OSError:
            pass
