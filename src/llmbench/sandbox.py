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

import fcntl
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import llmbench
from llmbench.errors import LlmbenchError

OUTPUT_TAIL_BYTES = 64 * 1024
SANDBOX_UID = 65534  # "nobody" inside the bwrap user namespace
FALLBACK_UID_BASE = 61000  # fallback mode: one uid per concurrent run, so cleanup is exact
FALLBACK_UID_COUNT = 2000
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")  # fallback: swept for the leased uid's files
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives",
    "nsswitch.conf", "mime.types", "matplotlibrc", "fonts",
)
KEEP_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "TZ")
NO_BWRAP_ENV = "LLMBENCH_NO_BWRAP"


class SandboxUnavailable(LlmbenchError):
    """The requested isolation cannot be had on this machine (a user's choice to fix)."""


@dataclass
class Limits:
    wall_s: float = 60.0
    cpu_s: float | None = None  # defaults to wall_s * 2 (threads may use both cores)
    memory_mb: int | None = 4096  # RLIMIT_AS; None for CUDA (it breaks CUDA initialisation)
    nproc: int = 64
    fsize_mb: int = 256
    tmpfs_mb: int = 256


@dataclass
class RunOutcome:
    returncode: int | None
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    truncated_bytes: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class TailBuffer:
    """Keeps the last `limit` bytes of a stream and counts the rest."""

    def __init__(self, limit: int = OUTPUT_TAIL_BYTES):
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        dropped = self.total - len(self.data)
        body = self.data.decode("utf-8", "replace")
        return f"[... {dropped} earlier bytes not kept ...]\n{body}" if dropped else body

    @property
    def dropped(self) -> int:
        return self.total - len(self.data)


def drain(stream, buffer: TailBuffer) -> threading.Thread:
    def pump():
        try:
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
                buffer.feed(chunk)
        except (OSError, ValueError):
            pass

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bubblewrap works here; otherwise why not.

    LLMBENCH_NO_BWRAP=1 makes llmbench behave as on a machine without bubblewrap (CI's
    second pass tests the fallback that way)."""
    if os.environ.get(NO_BWRAP_ENV, "") not in ("", "0"):
        return f"bubblewrap disabled ({NO_BWRAP_ENV} is set)"
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(
            [exe, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
             "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr", *_root_links(), "--proc", "/proc",
             "--dev", "/dev", "true"],
            capture_output=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        return "bwrap cannot create a sandbox here: " + probe.stderr.decode(errors="replace").strip()[:200]
    return None


def _root_links() -> list[str]:
    """Reproduce /bin, /lib, ... as on the host (symlinks on merged-/usr systems)."""
    args = []
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    return args


def _python_paths() -> list[Path]:
    """What the interpreter needs: its installation, the virtualenv, and llmbench itself."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(llmbench.__file__).resolve().parent}
    exe = Path(sys.executable)
    paths.add(exe.resolve().parent)
    return sorted(paths)


def gpu_devices() -> list[str]:
    return sorted(str(p) for p in Path("/dev").glob("nvidia*"))


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
        if self.path is not None:
            try:
                (self.path / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass

    def kill_all(self) -> None:
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


class UidLease:
    """Fallback mode as root: a uid of our pool that no other concurrent run uses."""

    def __init__(self):
        lock_dir = Path(tempfile.gettempdir()) / "llmbench-uids"
        lock_dir.mkdir(exist_ok=True, mode=0o700)
        start = (os.getpid() * 7) % FALLBACK_UID_COUNT
        for i in range(FALLBACK_UID_COUNT):
            uid = FALLBACK_UID_BASE + (start + i) % FALLBACK_UID_COUNT
            fh = open(lock_dir / str(uid), "w")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                continue
            self.uid, self._fh = uid, fh
            # A holder that was SIGKILLed (its trusted process killed) could not clean up:
            # its daemons must not share this run's uid.
            self.kill_all()
            return
        raise RuntimeError("no free sandbox uid")

    def kill_all(self) -> None:
        """Kill every process of the leased uid: daemons that left the process group too."""
        for _ in range(50):
            found = False
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if entry.stat().st_uid != self.uid:
                        continue
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
                except (OSError, ProcessLookupError):
                    continue
            if not found:
                return
            time.sleep(0.02)

    def remove_files(self) -> None:
        """Delete what the uid left at the top of world-writable temp folders: the copy is
        its only writable place by design, but /tmp and /dev/shm are writable by anyone.
        Runs after kill_all, so nothing of that uid can race the removal."""
        for base in sorted({tempfile.gettempdir(), *WORLD_WRITABLE}):
            try:
                entries = list(os.scandir(base))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid != self.uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)  # never follows links
                    else:
                        os.unlink(entry.path)
                except OSError:
                    continue

    def release(self) -> None:
        self.kill_all()
        self.remove_files()
        self._fh.close()


@dataclass
class Sandbox:
    """Runs commands on a throwaway copy. `mode`: auto | bwrap | fallback."""

    mode: str = "auto"
    gpu: bool = False
    extra_ro: list[Path] = field(default_factory=list)

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
        if self.mode == "bwrap":
            return "bwrap (user namespace, no network, read-only system)"
        if self.is_root:
            net = "own network namespace" if self.fallback_netns else "no network isolation"
            return f"fallback: rlimits + unprivileged uid ({net})"
        return "fallback: rlimits only (weak: same user, no network or file isolation)"

    @property
    def short_isolation(self) -> str:
        return "bwrap" if self.mode == "bwrap" else ("fallback-uid" if self.is_root else "fallback-rlimits")

    def warning(self) -> str | None:
        if self.mode == "bwrap":
            return None
        why = bwrap_problem() or "fallback mode requested"
        if self.is_root:
            return f"{why}; solutions run with rlimits under an unprivileged uid, without network isolation"
        return f"{why}; solutions run with rlimits only, as your user: weak containment (install bubblewrap)"

    # -- environment ---------------------------------------------------------------
    def env(self, workdir: Path, extra: dict | None = None) -> dict:
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
        if self.mode == "bwrap":
            args = [
                shutil.which("bwrap"), "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
                "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent", "--new-session",
                "--disable-userns", "--ro-bind", "/usr", "/usr", *_root_links(), "--proc", "/proc",
                "--dev", "/dev", "--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
            ]
            for name in ETC_FILES:
                p = Path("/etc") / name
                if p.exists():
                    args += ["--ro-bind", str(p), str(p)]
            for p in [*_python_paths(), *self.extra_ro, *ro]:
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
        lease = UidLease() if (self.mode == "fallback" and self.is_root) else None
        uid = lease.uid if lease else None
        self.prepare_workdir(workdir, uid, list(rw))
        cmd = [a.replace("{uid}", str(uid)) for a in self.wrap(list(argv), workdir, list(ro), limits, python, list(rw))]
        cg = PidsCgroup(limits.nproc + 8)
        cpu = int(limits.cpu_s or max(limits.wall_s * 2, 5))
        nproc_extra = 0 if (self.mode == "bwrap" or self.is_root) else _count_own_processes()

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
        return SandboxedProcess(proc, cg, lease)

    def run(self, argv: list[str], *, workdir: Path, limits: Limits, ro: list[Path] = (), rw: list[Path] = (),
            python: bool = True,
            env: dict | None = None) -> RunOutcome:
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


def set_limit(res: int, soft: int, hard: int | None = None) -> None:
    """setrlimit, never above an inherited hard limit: raising one needs CAP_SYS_RESOURCE,
    which even root may lack (containers), and failing here would fail every call of the
    solution with "Exception occurred in preexec_fn" (the solution's fault, seemingly)."""
    hard = soft if hard is None else hard
    _, inherited = resource.getrlimit(res)
    if inherited != resource.RLIM_INFINITY:
        soft, hard = min(soft, inherited), min(hard, inherited)
    resource.setrlimit(res, (soft, hard))


CLONE_NEWNET = 0x40000000


def unshare_network() -> None:
    """Move the calling process into a new, empty network namespace (loopback down)."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")


@functools.lru_cache(maxsize=1)
def network_namespace_available() -> bool:
    """Can this (root) process give a child its own network namespace? Probed once in a fork."""
    if os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            unshare_network()
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def set_parent_death_signal() -> None:
    """Die with the parent (Linux): no sandboxed process outlives the harness."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _count_own_processes() -> int:
    uid = os.getuid()
    n = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                n += 1
        except OSError:
            pass
    return n


ACTIVE: set["SandboxedProcess"] = set()  # killed on Ctrl-C


def kill_all_active() -> None:
    for sp in list(ACTIVE):
        sp.kill()


class SandboxedProcess:
    def __init__(self, proc: subprocess.Popen, cgroup: PidsCgroup, lease: UidLease | None):
        self.proc, self.cgroup, self.lease = proc, cgroup, lease
        self._done = False
        ACTIVE.add(self)

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
        ACTIVE.discard(self)


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


def make_copy(source: Path, parent: Path | None = None) -> Path:
    """A throwaway copy of a folder. Symlinks are copied as links (never followed)."""
    base = Path(tempfile.mkdtemp(prefix="llmbench-run-", dir=parent))
    os.chmod(base, 0o755)
    dest = base / "work"
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return dest


def remove_copy(copy: Path) -> None:
    shutil.rmtree(copy.parent, ignore_errors=True)
