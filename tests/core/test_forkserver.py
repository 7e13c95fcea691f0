"""The fork server: trusted pytest runs forked from one pre-imported process, each on its own."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from llmbench.phases import conformance
from llmbench.phases.forkserver import ForkServer, ForkServerError

# A "suite" that reports, from inside the trusted run, what a run must have of its own.
PROBE = """
import json, os, resource, sys

def test_probe():
    with open(os.environ["PROBE_OUT"], "w") as fh:
        json.dump({"pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0), "pgid": os.getpgid(0),
                   "cwd": os.getcwd(), "env": os.environ.get("PROBE_TAG"), "path0": sys.path[0],
                   "cap": resource.getrlimit(resource.RLIMIT_AS)[0],
                   "cmdline": open("/proc/self/cmdline", "rb").read().replace(b"\\0", b" ").decode().strip(),
                   "stdin": os.read(0, 10).decode(), "modules": "llmbench.conformance.plugin" in sys.modules,
                   "state": [k for k in ("PROBE_LEAK",) if k in globals()]}, fh)
    if os.environ.get("PROBE_CRASH"):
        os.abort()
    globals()["PROBE_LEAK"] = 1  # a forked run must never see this in the next one
"""


def wait_dead(pid: int, timeout: float) -> bool:
    """Gone, or a zombie waiting for whoever inherited it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server():
    srv = ForkServer({**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    yield srv
    srv.close()


def start(srv, tmp_path, name: str, **extra):
    suite = tmp_path / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_probe.py").write_text(PROBE)
    out, log = tmp_path / f"{name}.json", tmp_path / f"{name}.log"
    env = {**srv.env, "PROBE_OUT": str(out), "PROBE_TAG": name, **extra}
    argv = [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider"]
    run = srv.start(argv, suite, env, log, 8 * 1024**3)
    return run, out, log


def test_each_run_is_a_fresh_child_in_its_own_session_with_its_own_env_and_cap(server, tmp_path):
    a, out_a, log_a = start(server, tmp_path, "first")
    b, out_b, _ = start(server, tmp_path, "second")
    assert a.wait(60) == 0 and b.wait(60) == 0, log_a.read_text()
    pa, pb = json.loads(out_a.read_text()), json.loads(out_b.read_text())
    assert pa["pid"] == a.pid and pb["pid"] == b.pid and a.pid != b.pid
    for probe, run in ((pa, a), (pb, b)):
        assert probe["sid"] == probe["pgid"] == run.pid  # its own session: killpg(pid) stops all it started
        assert probe["ppid"] == server.proc.pid and run.pid != server.proc.pid
        assert probe["cwd"] == str(tmp_path / "suite") and probe["path0"] == str(tmp_path / "suite")
        assert probe["cap"] == 8 * 1024**3 and probe["stdin"] == ""
        assert "-m pytest" in probe["cmdline"] and str(tmp_path / "suite") in probe["cmdline"]
        assert probe["state"] == []  # nothing of the earlier run's module state
    assert (pa["env"], pb["env"]) == ("first", "second")
    assert "1 passed" in log_a.read_text()


def test_a_crashed_run_does_not_affect_the_next(server, tmp_path):
    crashed, _, _ = start(server, tmp_path, "crash", PROBE_CRASH="1")
    assert crashed.wait(60) == -signal.SIGABRT
    after, out, _ = start(server, tmp_path, "after")
    assert after.wait(60) == 0 and json.loads(out.read_text())["env"] == "after"


def test_a_run_is_stopped_like_a_process_and_a_dead_server_is_reported(server, tmp_path):
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(60)\n")
    argv = [sys.executable, "-m", "pytest", str(tmp_path / "suite"), "-q", "-p", "no:cacheprovider"]
    run = server.start(argv, tmp_path / "suite", server.env, tmp_path / "slow.log", None)
    with pytest.raises(Exception):
        run.wait(0.5)
    conformance.stop([run])  # SIGINT to its group: pytest ends its session
    assert run.poll() == 2 and "KeyboardInterrupt" in (tmp_path / "slow.log").read_text()
    # The server dies while a run goes on: the run is killed and reported; no more runs start.
    other = server.start(argv, tmp_path / "suite", server.env, tmp_path / "other.log", None)
    os.kill(server.proc.pid, signal.SIGKILL)
    assert other.wait(10) == -signal.SIGKILL
    assert wait_dead(other.pid, 5)
    with pytest.raises(ForkServerError):
        server.start(argv, tmp_path / "suite", server.env, tmp_path / "third.log", None)


def test_a_run_plan_forks_its_conformance_runs_and_the_switch_turns_it_off(monkeypatch):
    runs = conformance.TrustedRuns()
    assert runs.server is None  # outside a plan: plain processes
    with runs:
        server = runs.server
        assert server is not None and server.alive
        assert server._ready.wait(60)
    assert runs.server is None and server.proc.wait(10) == 0  # a ready server ends when its input closes
    monkeypatch.setenv("LLMBENCH_NO_FORKSERVER", "1")
    with conformance.TrustedRuns() as off:
        assert off.server is None


def test_the_cli_session_starts_one_server_before_planning_that_its_runs_can_use(monkeypatch):
    """`llmbench run` enters its session's TrustedRuns before planning and run_plan enters it
    again: one server, still up after the inner exit, and started in the environment the runs
    ask for (the build's secret seed is set before it starts), or every run would start slow."""
    from llmbench.runner import new_session

    monkeypatch.delenv("LLMBENCH_SECRET_SEED", raising=False)
    session = new_session(2)
    with session.trusted as outer:
        server = outer.server
        with session.trusted as inner:
            assert inner.server is server
        assert outer.server is server and server.alive
        assert server.env == conformance.trusted_env()
    assert session.trusted.server is None


def test_a_server_closed_while_still_importing_is_killed_at_once():
    """A run with nothing to do must not wait for the server's imports (it reads its input only once ready)."""
    server = ForkServer(conformance.trusted_env())
    server.close()
    assert server.proc.returncode == -signal.SIGKILL


def test_a_run_forked_after_its_caller_gave_up_is_killed_and_the_fallback_is_said(monkeypatch, tmp_path):
    """The caller stops waiting for the fork (here the server is paused past the wait) and starts the
    run plainly: the late fork must not run the same tests a second time, unseen, and the slower path
    is said once."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_mark.py").write_text(
        "import os, time\n\ndef test_mark():\n    open(os.environ['MARKS'] + f'/{os.getpid()}', 'w').close()\n"
        "    time.sleep(1)\n")
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("MARKS", str(marks))
    argv = [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider"]
    with conformance.TrustedRuns() as trusted:
        server = trusted.server
        assert server._ready.wait(60)
        monkeypatch.setattr("llmbench.phases.forkserver.FORK_TIMEOUT_S", 0.5)
        os.kill(server.proc.pid, signal.SIGSTOP)  # it takes the request but cannot fork in time
        try:
            with pytest.warns(UserWarning, match="could not start a run.*plain processes"):
                run = trusted.launch(argv, suite, tmp_path / "run.log", None)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)  # now it forks: too late
        assert isinstance(run, subprocess.Popen) and run.wait(60) == 0  # the plain process
        assert server.alive
        late = [r for r in server._runs.values() if r.abandoned]
        assert all(r.wait(10) == -signal.SIGKILL for r in late)
        time.sleep(1.5)  # long enough for a late fork left alive to have run its test
    assert [int(p.name) for p in marks.iterdir()] == [run.pid]
