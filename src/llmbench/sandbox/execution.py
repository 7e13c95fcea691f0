"""The Sandbox: runs a command on a throwaway copy, in bubblewrap or in the fallback mode."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LlmbenchError
from .bwrap import ETC_FILES, SANDBOX_UID, bwrap_problem, gpu_devices, python_paths, root_links
from .cgroups import PidsCgroup
from .fallback import UidLease, count_own_processes, network_namespace_available, set_parent_death_signal, unshare_network
from .limits import Limits, RunOutcome, describe_exit, set_limit
from .output import TailBuffer, drain
from .processes import ProcessRegistry, SandboxedProcess

KEEP_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "TZ")


class SandboxUnavailable(LlmbenchError):
    """The requested isolation cannot be had on this machine (a user's choice to fix)."""


@dataclass
class Sandbox:
    """Runs commands on a throwaway copy. `mode`: auto | bwrap | fallback."""

    mode: str = "auto"
    gpu: bool = False
    extra_ro: list[Path] = field(default_factory=list)
    processes: ProcessRegistry = field(default_factory=ProcessRegistry)  # killed together on abort

    def __post_init__(self):
        if self.mode == "auto":
            self.mode = "bwrap" if bwrap_problem() is None else "fallback"
        elif self.mode == "bwrap" and bwrap_problem():
            raise SandboxUnavailable(f"--isolation bwrap: {bwrap_problem()}; install bubblewrap "
                                     "(e.g. apt-get install bubblewrap) or use --isolation auto or fallback")
        elif self.mode not in ("bwrap", "fallback"):
            raise SandboxUnavailable(f"unknown isolation mode '{self.mode}': use auto, bwrap or fallback")
        self.is_root = os.geteuid() == 0

    @property
    def fallback_netns(self) -> bool:
        """Fallback as root: each run also gets an empty network namespace (when the kernel lets us)."""
        return self.mode == "fallback" and self.is_root and network_namespace_available()

    @property
    def isolation(self) -> str:
        """The isolation in words, as progress lines and the methodology show it."""
        if self.mode == "bwrap":
            return "bwrap (user namespace, no network, read-only system)"
        if self.is_root:
            net = "own network namespace" if self.fallback_netns else "no network isolation"
            return f"fallback: rlimits + unprivileged uid ({net})"
        return "fallback: rlimits only (weak: same user, no network or file isolation)"

    @property
    def short_isolation(self) -> str:
        """The isolation as one word (``bwrap``, ``fallback-uid``, ``fallback-rlimits``): part of result keys."""
        return "bwrap" if self.mode == "bwrap" else ("fallback-uid" if self.is_root else "fallback-rlimits")

    def warning(self) -> str | None:
        """What the user should know when running without bubblewrap (weaker containment), else None."""
        if self.mode == "bwrap":
            return None
        why = bwrap_problem() or "fallback mode requested"
        if self.is_root:
            return f"{why}; solutions run with rlimits under an unprivileged uid, without network isolation"
        return f"{why}; solutions run with rlimits only, as your user: weak containment (install bubblewrap)"

    # -- environment ---------------------------------------------------------------
    def env(self, workdir: Path, extra: dict | None = None) -> dict:
        """The environment of a sandboxed process: a minimal, reproducible one, not the harness's.

        Single-threaded BLAS, a fixed hash seed, HOME in the copy; GPU variables only for a GPU sandbox.

        Args:
            workdir: The copy the process runs in.
            extra: Variables added last.
        """
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": "/tmp" if self.mode == "bwrap" else str(workdir / ".tmp"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        for key in KEEP_ENV:
            if key in os.environ and key not in env:
                env[key] = os.environ[key]
        if self.gpu:
            for key in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
                if key in os.environ:
                    env[key] = os.environ[key]
        env.update(extra or {})
        return env

    # -- command construction -------------------------------------------------------
    def wrap(self, argv: list[str], workdir: Path, ro: list[Path], limits: Limits, python: bool,
             rw: list[Path] = ()) -> list[str]:
        """The full command line: bubblewrap's (namespaces, read-only system, the copy bound writable)
        around `argv`, or `argv` alone in the fallback; Python goes through `bootstrap`.

        Args:
            argv: The command.
            workdir: The copy, the only writable place besides `rw`.
            ro: More paths bound read-only.
            limits: The limits (bwrap's /tmp size).
            python: `argv` starts a Python interpreter.
            rw: More paths bound writable.
        """
        if self.mode == "bwrap":
            args = [
                shutil.which("bwrap"), "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
                "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent", "--new-session",
                "--disable-userns", "--ro-bind", "/usr", "/usr", *root_links(), "--proc", "/proc",
                "--dev", "/dev", "--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
            ]
            for name in ETC_FILES:
                p = Path("/etc") / name
                if p.exists():
                    args += ["--ro-bind", str(p), str(p)]
            for p in [*python_paths(), *self.extra_ro, *ro]:
                args += ["--ro-bind", str(p), str(p)]
            if self.gpu:
                args += ["--ro-bind", "/usr/local", "/usr/local"]
                for dev in gpu_devices():
                    args += ["--dev-bind", dev, dev]
            for p in rw:
                args += ["--bind", str(p), str(p)]
            args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--"]
            return args + (self.bootstrap(argv, workdir) if python else argv)
        return self.bootstrap(argv, workdir) if python else argv

    def bootstrap(self, argv: list[str], workdir: Path) -> list[str]:
        """argv is [python, -m module | script, ...]: start it through llmbench.dropper, isolated
        (-s -P: nothing of the copy on sys.path) from a trusted folder; as root in the fallback
        it drops to the leased uid, and only then enters the copy (see llmbench.dropper)."""
        uid = ["--uid", "{uid}"] if (self.mode == "fallback" and self.is_root) else []
        return [argv[0], "-s", "-P", "-m", "llmbench.dropper", *uid, "--chdir", str(workdir), "--", *argv[1:]]

    def prepare_workdir(self, workdir: Path, uid: int | None, rw: list[Path] = ()) -> None:
        """Make the copy's private temp folder; when a uid is leased, give it the copy and `rw`."""
        (workdir / ".tmp").mkdir(exist_ok=True)
        for top in ([workdir, *rw] if uid is not None else []):
            for root, dirs, files in os.walk(top):
                os.chown(root, uid, uid)
                for name in files:
                    path = os.path.join(root, name)
                    if not os.path.islink(path):
                        os.chown(path, uid, uid)

    # -- running --------------------------------------------------------------------
    def popen(self, argv: list[str], *, workdir: Path, limits: Limits, ro: list[Path] = (), rw: list[Path] = (),
              python: bool = True,
              env: dict | None = None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE) -> "SandboxedProcess":
        """Start a sandboxed process under the limits, without waiting for it.

        In the fallback as root, the process runs under a leased unprivileged uid (and its own
        network namespace when available); every process gets rlimits, a new session, a pids
        cgroup where possible, and dies with the harness.

        Args:
            argv: The command.
            workdir: The copy it runs in.
            limits: CPU, memory, process, file-size limits (wall time is the caller's).
            ro: Paths bound read-only.
            rw: Paths bound writable.
            python: `argv` starts Python, which is started through `llmbench.dropper`.
            env: Extra environment variables.
            stdin (int | IO | None): As for `subprocess.Popen`.
            stdout (int | IO | None): As for `subprocess.Popen`.
            stderr (int | IO | None): As for `subprocess.Popen`.

        Returns:
            The process, with what must be cleaned up when it ends.
        """
        lease = UidLease() if (self.mode == "fallback" and self.is_root) else None
        uid = lease.uid if lease else None
        self.prepare_workdir(workdir, uid, list(rw))
        cmd = [a.replace("{uid}", str(uid)) for a in self.wrap(list(argv), workdir, list(ro), limits, python, list(rw))]
        cg = PidsCgroup(limits.nproc + 8)
        cpu = int(limits.cpu_s or max(limits.wall_s * 2, 5))
        nproc_extra = 0 if (self.mode == "bwrap" or self.is_root) else count_own_processes()

        netns = self.fallback_netns

        def preexec():
            cg.enter()
            os.setsid()
            set_parent_death_signal()
            set_limit(resource.RLIMIT_CPU, cpu, cpu + 5)
            if limits.memory_mb:
                m = limits.memory_mb * 1024 * 1024
                set_limit(resource.RLIMIT_AS, m)
            f = limits.fsize_mb * 1024 * 1024
            set_limit(resource.RLIMIT_FSIZE, f)
            n = limits.nproc + nproc_extra
            set_limit(resource.RLIMIT_NPROC, n)
            set_limit(resource.RLIMIT_CORE, 0)
            if uid is not None and netns:
                unshare_network()
            if uid is not None and not python:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)

        try:
            # A Python process starts in a trusted folder and enters the copy itself, after
            # any privilege drop (llmbench.dropper); other programs exec after preexec dropped.
            cwd = "/" if (python and self.mode == "fallback") else workdir
            proc = subprocess.Popen(cmd, cwd=cwd, env=self.env(workdir, env), stdin=stdin, stdout=stdout,
                                    stderr=stderr, preexec_fn=preexec, close_fds=True)
        except BaseException:  # nothing started: give back the cgroup and the uid now, not never
            cg.kill_all()
            if lease:
                lease.release()
            raise
        return SandboxedProcess(proc, cg, lease, self.processes)

    def run(self, argv: list[str], *, workdir: Path, limits: Limits, ro: list[Path] = (), rw: list[Path] = (),
            python: bool = True,
            env: dict | None = None) -> RunOutcome:
        """Run a sandboxed process to the end (or its wall-time limit) and collect its output's tail.

        Args are those of `popen`. Every process it left behind is killed.

        Returns:
            Exit code (None after a timeout), output tails and why it ended, in words.
        """
        start = time.monotonic()
        sp = self.popen(argv, workdir=workdir, limits=limits, ro=ro, rw=rw, python=python, env=env)
        out, err = TailBuffer(), TailBuffer()
        threads = [drain(sp.proc.stdout, out), drain(sp.proc.stderr, err)]
        timed_out = False
        try:
            sp.proc.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BaseException:
            sp.kill()
            raise
        if not timed_out:
            for t in threads:  # collect what is still in the pipes
                t.join(timeout=1)
        sp.kill()  # also kills stragglers (daemons) that hold the pipes open
        for t in threads:
            t.join(timeout=1)
        rc = sp.proc.returncode
        reason = describe_exit(rc, timed_out, limits, err.text())
        return RunOutcome(None if timed_out else rc, timed_out, time.monotonic() - start, out.text(), err.text(),
                          out.dropped + err.dropped, reason)
