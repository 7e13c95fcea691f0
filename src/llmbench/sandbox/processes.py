"""A sandboxed process tree, killed as a whole, and the registry of a run's live ones."""
from __future__ import annotations

import os
import signal
import subprocess
import threading

from .cgroups import PidsCgroup
from .fallback import UidLease


class ProcessRegistry:
    """The live sandboxed processes of one owner (a run, or one Sandbox): killed together on abort."""

    def __init__(self):
        self._live: set["SandboxedProcess"] = set()
        self._lock = threading.Lock()
        self._closed = False

    def add(self, process: "SandboxedProcess") -> None:
        """Track a started process; one started after `close` (a phase that was already on its
        way when the run was aborted) is killed at once."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._live.add(process)
        if closed:
            process.kill()

    def discard(self, process: "SandboxedProcess") -> None:
        """Forget a process that has ended (killed or reaped)."""
        with self._lock:
            self._live.discard(process)

    def kill_all(self) -> None:
        """Kill every tracked process tree."""
        with self._lock:
            live = list(self._live)
        for process in live:
            process.kill()

    def close(self) -> None:
        """Kill every tracked process tree, and every one added from now on (an aborted run)."""
        with self._lock:
            self._closed = True
        self.kill_all()

    def __len__(self) -> int:
        return len(self._live)


class SandboxedProcess:
    """A started sandboxed process with its pids cgroup and (fallback as root) its leased uid."""

    def __init__(self, proc: subprocess.Popen, cgroup: PidsCgroup, lease: UidLease | None,
                 registry: ProcessRegistry | None = None):
        self.proc, self.cgroup, self.lease = proc, cgroup, lease
        self._done = False
        self.registry = registry
        if registry is not None:
            registry.add(self)

    def kill(self) -> None:
        """Kill the whole tree: process group, cgroup members, processes of the leased uid."""
        if self._done:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.cgroup.kill_all()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self.lease:
            self.lease.release()
        self._done = True
        if self.registry is not None:
            self.registry.discard(self)
