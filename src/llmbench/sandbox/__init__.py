"""Sandboxed execution of untrusted code.

Two isolation modes:

* ``bwrap``: bubblewrap with an unprivileged user namespace (uid/gid 65534, no
  capabilities), every namespace unshared (no network), read-only binds of the system,
  the Python installation and llmbench itself, a private /tmp, and the throwaway copy of
  the solution as the only writable place.
* ``fallback``: no bubblewrap. As root, the process drops to a per-run unprivileged uid
  right after the interpreter has started (``llmbench.dropper``), so file permissions
  protect the rest of the machine and RLIMIT_NPROC applies; as a normal user only rlimits
  and a new session protect the machine (said plainly in the isolation level).

Every Python process starts through ``llmbench.dropper`` with ``-s -P`` from a trusted
folder: no file of the solution can shadow a module before the drop (or before the
worker is loaded); the copy is entered only then.

Always: rlimits (CPU seconds, memory, processes, file size), a wall-clock timeout that
kills the whole process tree, output capped to its last bytes, a scrubbed environment.
"""
from __future__ import annotations

from .bwrap import NO_BWRAP_ENV, SANDBOX_UID, bwrap_problem, gpu_devices
from .cgroups import PidsCgroup
from .copies import make_copy, remove_copy
from .fallback import (FALLBACK_UID_BASE, FALLBACK_UID_COUNT, UidLease, network_namespace_available,
                       set_parent_death_signal, unshare_network)
from .limits import Limits, RunOutcome, describe_exit, set_limit
from .output import OUTPUT_TAIL_BYTES, TailBuffer, drain
from .processes import ProcessRegistry, SandboxedProcess
from .execution import Sandbox, SandboxUnavailable

__all__ = [
    "FALLBACK_UID_BASE", "FALLBACK_UID_COUNT", "NO_BWRAP_ENV", "OUTPUT_TAIL_BYTES", "SANDBOX_UID", "Limits",
    "PidsCgroup", "ProcessRegistry", "RunOutcome", "Sandbox", "SandboxUnavailable", "SandboxedProcess", "TailBuffer",
    "UidLease", "bwrap_problem", "describe_exit", "drain", "gpu_devices", "make_copy", "network_namespace_available",
    "remove_copy", "set_limit", "set_parent_death_signal", "unshare_network",
]
