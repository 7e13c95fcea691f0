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

A suite server is one such child started with `"suite_server": true`: a trusted pytest that
has collected one challenge's suite once and then forks a child per run of it (see
`llmbench.conformance.suiteserver`). The server gives it a request pipe and a reply pipe:
    -> {"id": m, "via": n, "options": {...}, "cwd", "env", "log", "cap"}   relayed to suite server n
    <- {"id": n, "serving": true} once it has collected; then "pid"/"exit" lines for its runs,
       relayed as they come; {"id": m, "exit": null} when no suite server n can take the run.
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
           "llmbench.errors", "llmbench.signature", "llmbench.sandbox", "llmbench.wire", "llmbench.phases.conformance",
           "llmbench.conformance.suiteserver")


def trusted_env() -> dict[str, str]:
    """The trusted pytest's environment: ours, without third-party pytest plugins (the suites use
    none; importing them, asyncio and trio among them, cost every run a quarter of a second)."""
    return {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def switched_on(name: str) -> bool:
    """Whether the environment leaves a speed-up on (its switch, e.g. LLMBENCH_NO_FORKSERVER, unset or 0)."""
    return os.environ.get(name, "") in ("", "0")


def fix_secret_seed() -> None:
    """Fix the build's secret seed (the suites' multi-seed tests draw from it; each result
    records it) in this process's environment, before a fork server takes that environment."""
    os.environ.setdefault("LLMBENCH_SECRET_SEED", str(int.from_bytes(os.urandom(4), "little")))


def start_early() -> "ForkServer | None":
    """Start a fork server for this process's runs before anything else is imported (its imports
    then overlap the caller's); `llmbench.phases.conformance.TrustedRuns` takes it over. None
    when switched off or it cannot start."""
    if not switched_on("LLMBENCH_NO_FORKSERVER"):
        return None
    fix_secret_seed()
    try:
        return ForkServer(trusted_env())
    except OSError:
        return None


class ForkServerError(Exception):
    """The server could not start a run (it did not start, or died): use a plain process."""


# ------------------------------------------------------------------------------ harness side
class ForkedRun:
    """A trusted run forked by the server; waited on like a subprocess.Popen (pid = its group)."""

    def __init__(self, argv: list[str], via: int | None = None):
        self.args = argv
        self.via = via  # the suite server that forked it, if one did
        self.id: int | None = None  # the fork server's id for it
        self.pid: int | None = None
        self.returncode: int | None = None
        self.abandoned = False  # forked too late: its caller gave up on it
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


class SuiteServer(ForkedRun):
    """A trusted pytest that collected one suite and forks a run of it per request
    (`llmbench.conformance.suiteserver`); `serving` is set once it has collected, or ended."""

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        self._serving = threading.Event()

    def serving(self, timeout: float) -> bool:
        """Wait until it takes runs; False if it ended (its suite did not collect) or never got there."""
        return self._serving.wait(timeout) and not self._done.is_set()

    def abandon(self) -> None:
        """Kill it while it is still collecting (whoever waits for it then runs plainly, or not at
        all); one that serves is left alone: its runs are the caller's to stop, and it ends with
        its fork server."""
        if self.pid is not None and not self._serving.is_set():
            _kill(self.pid)

    def _finish(self, code: int | None) -> None:
        super()._finish(code)
        self._serving.set()


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
        run = ForkedRun(argv)
        self._send(run, {"argv": argv, "cwd": str(cwd), "env": env, "log": str(log), "cap": cap})
        return run

    def start_suite_server(self, argv: list[str], cwd: Path, log: Path) -> SuiteServer:
        """Fork a suite server: `argv` runs a suite's pytest with ``--llmbench-serve``; it collects,
        then serves `start_via` requests until the fork server closes. Its own output goes to `log`."""
        server = SuiteServer(argv)
        self._send(server, {"argv": argv, "cwd": str(cwd), "env": self.env, "log": str(log),
                                        "cap": None, "suite_server": True})
        return server

    def start_via(self, suite: SuiteServer, options: dict, log: Path, cap: int | None, title: str) -> ForkedRun:
        """Fork a run of `suite`'s collected suite with these per-run options (its environment
        and working folder are the suite server's)."""
        if not suite.serving(READY_TIMEOUT_S):
            raise ForkServerError("the suite server is not serving")
        run = ForkedRun(suite.args, via=suite.id)
        self._send(run, {"via": suite.id, "options": options, "log": str(log), "cap": cap, "title": title})
        return run

    def _send(self, run: ForkedRun, request: dict) -> None:
        if not self._ready.wait(READY_TIMEOUT_S) or not self.alive:
            raise ForkServerError("the fork server did not start")
        with self._lock:
            if self._dead:
                raise ForkServerError("the fork server died")
            self._next += 1
            rid = run.id = self._next
            self._runs[rid] = run
            try:
                self.proc.stdin.write((json.dumps({"id": rid, **request}) + "\n").encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._runs.pop(rid, None)
                raise ForkServerError("the fork server died") from None
        if not run._started.wait(FORK_TIMEOUT_S):
            with self._lock:
                late = run.pid is None
                run.abandoned = late  # if it forks after all, the reader kills it: its caller runs it plainly
            if late:
                raise ForkServerError("the fork server did not fork in time")
        if run.pid is None:
            raise ForkServerError("the fork server did not fork")

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
                    if run.abandoned:
                        _kill_reported([run])
                elif msg.get("serving") and isinstance(run, SuiteServer):
                    run._serving.set()
                elif "exit" in msg:
                    self._runs.pop(msg["id"], None)
                    run._finish(msg["exit"])
                    if isinstance(run, SuiteServer):  # its runs still going can no longer be waited for
                        orphans = [(rid, r) for rid, r in self._runs.items() if r.via == run.id]
                        for rid, _ in orphans:
                            del self._runs[rid]
                        _kill_reported(r for _, r in orphans)
        # The server is gone: its children (if any) can no longer be waited for. Kill them
        # (each leads its own group) and report them killed.
        with self._lock:
            self._dead = True
            orphans, self._runs = list(self._runs.values()), {}
        self._ready.set()
        _kill_reported(orphans)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the server (its input closes; SIGKILL if it lingers, or at once while it is still
        importing: it reads its input only once ready). Runs still going are the caller's; its
        suite servers end with it (their request pipes close)."""
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


def _kill_reported(runs) -> None:
    """Kill runs nobody can wait for any more (each leads its own group); report them killed."""
    for run in runs:
        if run.pid is not None:
            _kill(run.pid)
        run._finish(-signal.SIGKILL if run.pid is not None else None)


def _kill(pid: int) -> None:
    """SIGKILL a forked child's group, and the child itself: one killed right after the fork may
    not lead a group yet."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


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
    # Whether bubblewrap works here, probed once (a sandbox run, ~10-20 ms) instead of in every
    # run's worker start; the runs' environment, which can switch it off, is this one.
    from llmbench.sandbox.bwrap import bwrap_problem

    bwrap_problem()


SUITE_SERVER_ENV = "LLMBENCH_SUITE_SERVER"  # "<id>,<request fd>,<reply fd>" in a suite server's environment


def become_child(request: dict, inherited: tuple[int, ...]) -> None:
    """In a child just forked for `request`: its own session, stdio (its log), environment,
    working folder, address-space cap, title and random streams; none of its parent's
    control channels (`inherited`)."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in inherited:
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    if "cwd" in request:  # a suite server's run keeps the server's folder and environment
        os.chdir(request["cwd"])
    if "env" in request:
        os.environ.clear()
        os.environ.update(request["env"])
    if request.get("cap"):
        _cap_address_space(int(request["cap"]))
    argv = [str(a) for a in request.get("argv") or ()]
    set_title(" ".join(argv) or request.get("title", ""))
    import random

    import numpy

    random.seed()
    numpy.random.seed()


def _child(request: dict, inherited: tuple[int, ...], suite_fds: tuple[int, int] | None = None) -> None:
    """In the forked child: become a fresh trusted pytest run, then exit. Never returns."""
    code = 70
    try:
        become_child(request, inherited)
        if suite_fds is not None:  # it serves its runs over these (llmbench.conformance.suiteserver)
            os.environ[SUITE_SERVER_ENV] = f"{request['id']},{suite_fds[0]},{suite_fds[1]}"
        argv = [str(a) for a in request["argv"]]
        # As `python -m pytest` in cwd would have it.
        sys.path.insert(0, request["cwd"])
        sys.argv = [argv[0], *argv[3:]] if argv[1:3] == ["-m", "pytest"] else argv
        import pytest

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


class Forker:
    """The fork-and-reap loop a server shares with the suite servers it starts: requests come
    in as JSON lines on `ctl_in`; "pid" and "exit" lines go out on `ctl_out`."""

    def __init__(self, ctl_in: int, ctl_out: int):
        self.ctl_in, self.ctl_out = ctl_in, ctl_out
        self.children: dict[int, int] = {}  # pid -> request id
        self._pending = b""
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        self._wake_w = wake_w
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    @property
    def own_fds(self) -> tuple[int, ...]:
        """The descriptors a forked child must close."""
        return (self.ctl_in, self.ctl_out, self.wake_r, self._wake_w)

    def send(self, msg: dict) -> None:
        """One line to the harness (or the server relaying it)."""
        os.write(self.ctl_out, (json.dumps(msg) + "\n").encode())

    def wait(self, others: tuple[int, ...] = ()) -> list[int]:
        """Block until a request, an ended child or one of `others` is readable. Returns the
        readable descriptors among `ctl_in` and `others` (`reap` reports the ended children)."""
        ready, _, _ = select.select([self.ctl_in, self.wake_r, *others], [], [])
        if self.wake_r in ready:
            os.read(self.wake_r, 4096)
        return [fd for fd in ready if fd != self.wake_r]

    def reap(self) -> None:
        """Report every child that has ended."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            run = self.children.pop(pid, None)
            if run is not None:
                self.send({"id": run, "exit": os.waitstatus_to_exitcode(status)})

    def requests(self) -> list[dict] | None:
        """The complete requests waiting on `ctl_in`; None once it has closed."""
        data = os.read(self.ctl_in, 1 << 16)
        if not data:
            return None
        self._pending += data
        lines = self._pending.split(b"\n")
        self._pending = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]

    def fork(self, request: dict) -> int:
        """Fork for `request`: 0 in the child, the child's pid (reported) in the parent."""
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            self.children[pid] = request["id"]
            self.send({"id": request["id"], "pid": pid})
        return pid


def serve() -> None:
    """The server's loop: fork a child per request, report its pid and, once reaped, its exit
    code; start suite servers and relay runs to them and their replies back."""
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
    forker = Forker(ctl_in, ctl_out)
    suites: dict[int, tuple[int, int]] = {}  # suite server's id -> (its request pipe, its reply pipe)
    replies: dict[int, bytes] = {}  # reply pipe -> partial line
    forker.send({"ready": True})
    while True:
        ready = forker.wait(tuple(replies))
        for fd in ready:  # before reaping: a suite server's last replies precede its own exit
            if fd in replies:
                _relay(forker, fd, replies, suites)
        forker.reap()
        if ctl_in not in ready:
            continue
        requests = forker.requests()
        if requests is None:
            return  # the harness closed its end (or ended): children are in their own sessions
        for request in requests:
            if "via" in request:
                _pass_on(forker, request, suites)
                continue
            inherited = (*forker.own_fds, *(fd for pair in suites.values() for fd in pair))
            suite_fds = None
            if request.get("suite_server"):
                req_r, req_w = os.pipe()
                rep_r, rep_w = os.pipe()
                suite_fds = (req_r, rep_w)
            if forker.fork(request) == 0:
                _child(request, (*inherited, *((req_w, rep_r) if suite_fds else ())), suite_fds)
            if suite_fds:
                os.close(req_r)
                os.close(rep_w)
                os.set_blocking(req_w, False)
                suites[request["id"]] = (req_w, rep_r)
                replies[rep_r] = b""


def _pass_on(forker: Forker, request: dict, suites: dict) -> None:
    """Relay a run to its suite server, or answer that none can take it."""
    pipes = suites.get(request["via"])
    line = (json.dumps(request) + "\n").encode()
    # Written whole or not at all (a pipe takes up to PIPE_BUF bytes at once): a stuck suite
    # server must never block the fork server, nor get half a request.
    if pipes is not None and len(line) <= select.PIPE_BUF:
        try:
            if os.write(pipes[0], line) == len(line):
                return
        except OSError:
            pass
    forker.send({"id": request["id"], "exit": None})


def _relay(forker: Forker, fd: int, replies: dict, suites: dict) -> None:
    """Pass a suite server's complete reply lines on to the harness; forget it once it closed."""
    data = os.read(fd, 1 << 16)
    if not data:
        del replies[fd]
        for sid, (req_w, rep_r) in list(suites.items()):
            if rep_r == fd:
                os.close(req_w)
                del suites[sid]
        os.close(fd)
        return
    lines = (replies[fd] + data).split(b"\n")
    replies[fd] = lines.pop()
    for line in lines:
        if line.strip():
            os.write(forker.ctl_out, line + b"\n")


if __name__ == "__main__":
    serve()
