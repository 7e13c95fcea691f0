"""Start trusted pytest runs by forking a process that has already imported pytest and NumPy.

A fresh `python -m pytest` spends most of a second importing pytest, its plugins, NumPy and
our plugin's modules before it runs a single test. The fork server is a trusted process (it
never loads a solution, a suite or a conftest) that imports all that once; each conformance
run is a fresh child forked from it, in its own session, with its own environment, working
folder, address-space cap and log file. The child then starts its own sandboxed worker as
before: no two runs share a process, nothing of one run reaches the server or another run
(the server sends nothing into a child after the fork and reads nothing back but its exit
status).

The harness talks to the server over a pipe, one JSON line per message:
    -> {"id": n, "argv": [...], "cwd": dir, "env": {...}, "log": file, "cap": bytes | null}
    <- {"ready": true} once, {"id": n, "pid": p} after the fork, {"id": n, "exit": code} after reaping.
The server exits when its input closes (the harness ended or closed it).
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

READY_TIMEOUT_S = 60.0
FORK_TIMEOUT_S = 30.0
# Room in the server's argv for each child's title (its /proc/<pid>/cmdline: `ps` then shows
# which solution a trusted run is testing).
TITLE_ROOM = 4096
# Everything a trusted run imports before its first test (the challenge loader pulls in the
# kinds and, through them, pydantic: ~0.4 s a run when left to the child).
PRELOAD = ("numpy", "numpy.testing", "pytest", "pydantic", "llmbench.schema", "llmbench.kinds",
           "llmbench.conformance", "llmbench.conformance.client", "llmbench.conformance.plugin",
           "llmbench.conformance.scale", "llmbench.challenge", "llmbench.solution", "llmbench.failures",
           "llmbench.errors", "llmbench.signature", "llmbench.sandbox", "llmbench.wire")


class ForkServerError(Exception):
    """The server could not start a run (it did not start, or died): use a plain process."""


# ------------------------------------------------------------------------------ harness side
class ForkedRun:
    """A trusted run forked by the server; waited on like a subprocess.Popen (pid = its group)."""

    def __init__(self, argv: list[str]):
        self.args = argv
        self.pid: int | None = None
        self.returncode: int | None = None
        self._started = threading.Event()
        self._done = threading.Event()

    def poll(self) -> int | None:
        """The exit status, or None while the run goes on."""
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the run to end and return its exit status.

        Raises:
            subprocess.TimeoutExpired: It did not end within `timeout`.
        """
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def _finish(self, code: int | None) -> None:
        self.returncode = code
        self._done.set()
        self._started.set()


class ForkServer:
    """One fork server process for one environment (started at once; ready a moment later)."""

    def __init__(self, env: dict[str, str]):
        self.env = dict(env)
        self._lock = threading.Lock()
        self._runs: dict[int, ForkedRun] = {}
        self._next = 0
        self._ready = threading.Event()
        self._dead = False
        # In its own session (a terminal's Ctrl-C reaches the harness, which stops the runs);
        # in "/" so that no project folder lands on its sys.path.
        self.proc = subprocess.Popen([sys.executable, "-m", "llmbench.phases.forkserver", " " * TITLE_ROOM],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     cwd="/", env=self.env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="llmbench-forkserver", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """Whether the server process is running and has not failed."""
        return not self._dead and self.proc.poll() is None

    def start(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path, cap: int | None) -> ForkedRun:
        """Fork a child that runs `argv` (python -m pytest ...); its output goes to `log`."""
        if not self._ready.wait(READY_TIMEOUT_S) or not self.alive:
            raise ForkServerError("the fork server did not start")
        run = ForkedRun(argv)
        request = {"argv": argv, "cwd": str(cwd), "env": env, "log": str(log), "cap": cap}
        with self._lock:
            if self._dead:
                raise ForkServerError("the fork server died")
            self._next += 1
            self._runs[self._next] = run
            try:
                self.proc.stdin.write((json.dumps({"id": self._next, **request}) + "\n").encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._runs.pop(self._next, None)
                raise ForkServerError("the fork server died") from None
        if not run._started.wait(FORK_TIMEOUT_S) or run.pid is None:
            raise ForkServerError("the fork server did not fork")
        return run

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("ready"):
                self._ready.set()
                continue
            with self._lock:
                run = self._runs.get(msg.get("id"))
                if run is None:
                    continue
                if "pid" in msg:
                    run.pid = int(msg["pid"])
                    run._started.set()
                elif "exit" in msg:
                    self._runs.pop(msg["id"], None)
                    run._finish(msg["exit"])
        # The server is gone: its children (if any) can no longer be waited for. Kill them
        # (each leads its own group) and report them killed.
        with self._lock:
            self._dead = True
            orphans, self._runs = list(self._runs.values()), {}
        self._ready.set()
        for run in orphans:
            if run.pid is not None:
                try:
                    os.killpg(run.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            run._finish(-signal.SIGKILL if run.pid is not None else None)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the server (its input closes; SIGKILL if it lingers, or at once while it is still
        importing: it reads its input only once ready). Runs still going are the caller's."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if not self._ready.is_set():
            self.proc.kill()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=timeout)
        if not self._reader.is_alive():
            self.proc.stdout.close()


# ------------------------------------------------------------------------------ server side
def set_title(text: str) -> None:
    """Rewrite this process's command line as /proc and `ps` show it (within its original length)."""
    try:
        with open("/proc/self/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        data = text.encode("utf-8", "replace")[: end - start - 1]
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(data + b"\0" * (end - start - len(data)))
    except (OSError, IndexError, ValueError):
        pass  # cosmetic where /proc does not allow it


def _cap_address_space(cap: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    import _pytest.config

    for name in _pytest.config.default_plugins:
        try:
            importlib.import_module(f"_pytest.{name}")
        except ImportError:
            pass


def _child(request: dict, control: tuple[int, ...]) -> None:
    """In the forked child: become a fresh trusted pytest run, then exit. Never returns."""
    code = 70
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in control:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("cap"):
            _cap_address_space(int(request["cap"]))
        argv = [str(a) for a in request["argv"]]
        set_title(" ".join(argv))
        # As `python -m pytest` in cwd would have it; and random streams of its own, not the server's.
        sys.path.insert(0, request["cwd"])
        sys.argv = [argv[0], *argv[3:]] if argv[1:3] == ["-m", "pytest"] else argv
        import random

        import numpy
        import pytest

        random.seed()
        numpy.random.seed()
        code = int(pytest.main(sys.argv[1:]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported in the run's log, never to the server
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(int(code) if isinstance(code, int) else 1)


def serve() -> None:
    """The server's loop: fork a child per request, report its pid and, once reaped, its exit code."""
    ctl_in, ctl_out = os.dup(0), os.dup(1)
    # Nothing imported may write into the control channel or read from it.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path.pop(0)
    set_title("llmbench fork server (starts trusted pytest runs)")
    _preload()
    # What is imported now stays as it is in every child: out of the collector's sight, so that
    # a child's collections neither walk it nor copy its pages (copy-on-write).
    gc.collect()
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control = (ctl_in, ctl_out, wake_r, wake_w)

    def send(msg: dict) -> None:
        os.write(ctl_out, (json.dumps(msg) + "\n").encode())

    send({"ready": True})
    children: dict[int, int] = {}
    pending = b""
    while True:
        ready, _, _ = select.select([ctl_in, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            send({"id": children.pop(pid), "exit": os.waitstatus_to_exitcode(status)})
        if ctl_in in ready:
            data = os.read(ctl_in, 1 << 16)
            if not data:
                return  # the harness closed its end (or ended): children are in their own sessions
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, control)
                children[pid] = request["id"]
                send({"id": request["id"], "pid": pid})


if __name__ == "__main__":
    serve()
