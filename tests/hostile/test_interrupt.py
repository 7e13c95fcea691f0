"""Two `llmbench run` at once, and Ctrl-C in the middle of a run (real processes)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmbench.store import ResultStore
from tests.conftest import write
from tests.hostile.conftest import MODES, mode_or_skip
from tests.hostile.helpers import boot_ticks, leftover_processes, make_project, wait_for_no_leftovers

GOOD = "def add(a, b):\n    return a + b\n"
# Slow but finite (3 conformance calls): the resumed run must be able to finish it.
SLOW = """
import os, time

_daemon = False

def add(a, b):
    global _daemon
    if not _daemon:  # a daemon too: an interrupted run must not leave it behind
        _daemon = True
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(0.2)
            os._exit(0)
    time.sleep(2)
    return a + b
"""


class Run:
    """`llmbench run` in a subprocess; its output goes to a file (a full pipe would stall it)."""

    def __init__(self, root: Path, log: Path, isolation: str = "auto"):
        env = {**os.environ, "LLMBENCH_ROOT": str(root), "PYTEST_ADDOPTS": "-p no:hypothesispytest"}
        self.log = log
        with open(log, "w") as out:
            # A new session, like a terminal's foreground job: Ctrl-C goes to the whole group.
            self.proc = subprocess.Popen([sys.executable, "-m", "llmbench.cli", "run", "--no-controls", "--jobs",
                                          "1", "--isolation", isolation], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return rc, self.log.read_text()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "repo", {"call_timeout_s": 10, "conformance_timeout_s": 60})


def test_second_run_waits_for_the_first(project, tmp_path):
    write(project.solutions_dir / "m-slow" / "demo" / "demo.py", SLOW)
    lock = project.state_dir / "run.lock"
    first = Run(project.root, tmp_path / "first.log")
    try:
        wait_for(lambda: lock.exists() and lock.read_text().strip(), 60, "the first run to take the lock")
        rc2, out2 = Run(project.root, tmp_path / "second.log").finish(timeout=180)
    finally:
        rc1, out1 = first.finish(timeout=60)
    assert rc1 == 0 and rc2 == 0, out1 + out2
    assert "1 runs planned: 1 to run, 0 cached" in out1
    # It waited for the lock, and planned only then: the first run's result was there.
    assert "another llmbench run is in progress; waiting for it..." in out2
    assert "1 runs planned: 0 to run, 1 cached" in out2


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_keeps_finished_results_and_the_next_run_resumes(project, mode, tmp_path):
    mode_or_skip(mode)
    write(project.solutions_dir / "a-fast" / "demo" / "demo.py", GOOD)
    write(project.solutions_dir / "b-slow" / "demo" / "demo.py", SLOW)
    store = ResultStore(project.results_dir)
    fast, slow = store.path_for("a-fast", "demo"), store.path_for("b-slow", "demo")
    ticks = boot_ticks()
    run = Run(project.root, tmp_path / "interrupted.log", isolation=mode)
    try:
        wait_for(fast.exists, 120, "the first solution's result")
        # b-slow is now in its conformance run: give its worker time to start calling add().
        wait_for(lambda: trusted_processes(project.root, also="b-slow"), 60, "b-slow's conformance run")
        time.sleep(1.5)
        os.killpg(run.proc.pid, signal.SIGINT)
    finally:
        rc, out = run.finish(timeout=60)
    assert rc == 130, out
    assert "interrupted" in out
    assert store.read(fast) is not None and store.read(fast).status == "ok"
    assert not slow.exists()
    assert [p.name for p in project.results_dir.rglob("*") if p.is_file() and p.suffix != ".json"] == []
    assert wait_for_no_leftovers(ticks) == []
    assert trusted_processes(project.root) == []
    # The next run picks up where this one stopped: only the unfinished solution runs.
    rc, out = Run(project.root, tmp_path / "resumed.log", isolation=mode).finish(timeout=180)
    assert rc == 0, out
    assert "2 runs planned: 1 to run, 1 cached" in out
    assert store.read(slow).status == "ok"
    assert leftover_processes(ticks) == []


def trusted_processes(root: Path, also: str = "") -> list[str]:
    """Live processes whose command line names this project (the trusted conformance runs)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(root) in cmd and "--llmbench-solution" in cmd and also in cmd and state not in ("Z", "X"):
            found.append(f"pid {entry}: {cmd[:200]}")
    return found
