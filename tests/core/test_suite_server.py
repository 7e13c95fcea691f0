"""Suite servers: a challenge's suite is collected once; each run is forked from it, on its own."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from llmbench.challenge import load_challenge
from llmbench.phases import conformance
from llmbench.solution import NO_ADAPTER, Adapter
from tests.conftest import write
from tests.core.test_runner import GOOD

# A suite module that notes every process importing it, and a test that notes the run's process.
PROBE_SUITE = """
import json, os, resource
import pytest

with open(os.environ["PROBE_DIR"] + "/imports", "a") as fh:
    fh.write(f"{os.getpid()}\\n")

@pytest.mark.prompt("probe")
def test_probe(solution):
    assert solution.add(1, 2) == 3
    with open(os.environ["PROBE_DIR"] + f"/run-{os.getpid()}.json", "w") as fh:
        json.dump({"pid": os.getpid(), "sid": os.getsid(0), "ppid": os.getppid(),
                   "cap": resource.getrlimit(resource.RLIMIT_AS)[0], "cwd": os.getcwd(),
                   "leak": [k for k in ("PROBE_LEAK",) if k in globals()]}, fh)
    globals()["PROBE_LEAK"] = 1  # no later run may see this
"""
SLOW_TEST = """

@pytest.mark.prompt("slow")
def test_slow(solution):
    import time
    solution.add(1, 1)
    time.sleep(60)
"""


def demo_with(project, before: str = "", after: str = ""):
    """The demo challenge with its suite's test_demo.py given text `before` and `after` it, loaded,
    and a correct solution of it: (challenge, solution folder)."""
    suite = project.challenges_dir / "demo" / "conformance" / "test_demo.py"
    suite.write_text(before + suite.read_text() + after)
    challenge = load_challenge(project.challenges_dir / "demo")
    return challenge, write(project.solutions_dir / "m" / "demo" / "demo.py", GOOD["demo.py"]).parent


def records(challenge, solution, trusted, adapter=NO_ADAPTER, **kw):
    phase, traps, _metrics = conformance.run_conformance(challenge, solution, adapter, "auto", trusted=trusted, **kw)
    tests = [(t.name, t.outcome, t.failure, t.trap) for t in phase.tests]
    return phase, tests, {k: v.status for k, v in traps.items()}


def test_runs_forked_from_a_suite_server_give_what_plain_runs_give(demo_project, monkeypatch):
    """A solution, a mutant (its trap's and smoke tests only) and a cheat control (stop at the first
    failure, nothing beyond the prompt), each through the suite server and plainly."""
    challenge, good = demo_with(demo_project, after='\n\n@pytest.mark.beyond("stricter")\ndef test_extra(solution):\n'
                                                     '    assert solution.add(0, 0) == 1\n')
    bad = write(demo_project.solutions_dir / "b" / "demo" / "demo.py", "def add(a, b):\n    return a - b\n").parent
    cases = [(good, {}), (bad, {"only_trap": "wrong_sign"}), (bad, {"maxfail": 1})]

    def all_runs():
        with conformance.TrustedRuns() as trusted:
            out = [records(challenge, folder, trusted, **kw) for folder, kw in cases]
            served = [s for s in trusted._suites.values() if s is not None and s.poll() is None]
        return out, served

    forked, served = all_runs()
    assert len(served) == 1  # one server for the challenge, serving
    monkeypatch.setenv("LLMBENCH_NO_SUITE_SERVER", "1")
    plain, none = all_runs()
    assert none == []
    for (f_phase, f_tests, f_traps), (p_phase, p_tests, p_traps) in zip(forked, plain):
        assert (f_tests, f_traps, f_phase.status, f_phase.counts) == (p_tests, p_traps, p_phase.status, p_phase.counts)
    (_, good_tests, good_traps), (_, mutant_tests, _), (_, cheat_tests, _) = forked
    assert [t[:2] for t in good_tests] == [("test_arrays", "passed"), ("test_sign", "passed"),
                                           ("test_extra", "failed")] and good_traps == {"wrong_sign": "avoided"}
    assert [t[0] for t in mutant_tests] == ["test_arrays", "test_sign"]  # the trap's and the smoke tests
    assert len(cheat_tests) == 1 and cheat_tests[0][1] == "failed"  # stopped at the first failure
    # The summary's time counts from the run's start, not from the server's.
    log = forked[0][0].log_tail
    assert "1 failed, 2 passed in" in log and float(log.rsplit(" in ", 1)[1].split("s")[0]) < 30


def test_a_suite_is_collected_once_and_every_run_is_a_fresh_process_of_its_own(demo_project, monkeypatch, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    monkeypatch.setenv("PROBE_DIR", str(probe))
    write(demo_project.challenges_dir / "demo" / "conformance" / "test_probe.py", PROBE_SUITE)
    challenge, good = demo_with(demo_project)
    with conformance.TrustedRuns() as trusted:
        phases = [records(challenge, good, trusted)[0] for _ in range(3)]
        server = trusted._suites[str(challenge.path)]
        assert server is not None and server.poll() is None
    assert [p.status for p in phases] == ["ok"] * 3
    imports = probe.joinpath("imports").read_text().split()
    assert imports == [str(server.pid)]  # collected once, by the suite server
    runs = [json.loads(p.read_text()) for p in sorted(probe.glob("run-*.json"))]
    assert len({r["pid"] for r in runs}) == 3 and server.pid not in {r["pid"] for r in runs}
    cap = conformance.trusted_address_space(challenge.kind_impl, int(challenge.limits["memory_mb"]))
    for r in runs:
        assert r["sid"] == r["pid"] and r["ppid"] == server.pid  # its own session: killpg stops all it started
        assert r["cap"] == cap and r["cwd"] == str(challenge.path)
        assert r["leak"] == []  # nothing of an earlier run's state
    assert wait_gone(server.pid, 10)  # it ends with the run's fork server


def test_a_stopped_run_ends_its_session_and_the_server_keeps_serving(demo_project):
    challenge, good = demo_with(demo_project, after=SLOW_TEST)
    with conformance.TrustedRuns() as trusted:
        out = demo_project.root / "slow.json"
        log = demo_project.root / "slow.log"
        options = conformance.run_options(good, NO_ADAPTER, out, "auto", limits=challenge.limits)
        run = trusted.launch_suite(challenge, options, log, None)
        assert run.via is not None  # forked by the suite server
        with pytest.raises(Exception):
            run.wait(1.5)  # in its tests (the last one sleeps)
        conformance.stop([run])
        assert run.wait(30) == 2 and "KeyboardInterrupt" in log.read_text()
        phase, tests, _ = records(challenge, good, trusted, only_trap="wrong_sign")
        assert phase.status == "ok" and [t[0] for t in tests] == ["test_arrays", "test_sign"]
        assert trusted._suites[str(challenge.path)] is not None


def test_a_dead_suite_server_kills_its_runs_and_later_runs_start_plainly(demo_project):
    challenge, good = demo_with(demo_project, after=SLOW_TEST)
    with conformance.TrustedRuns() as trusted:
        options = conformance.run_options(good, NO_ADAPTER, demo_project.root / "r.json", "auto", limits=challenge.limits)
        run = trusted.launch_suite(challenge, options, demo_project.root / "r.log", None)
        server = trusted._suites[str(challenge.path)]
        os.kill(server.pid, signal.SIGKILL)
        assert run.wait(30) == -signal.SIGKILL and wait_gone(run.pid, 10)
        phase, tests, traps = records(challenge, good, trusted, only_trap="wrong_sign")
        assert phase.status == "ok" and traps == {"wrong_sign": "avoided"}
        assert trusted._suites[str(challenge.path)] is None  # later runs collect on their own


def test_a_suite_that_does_not_collect_is_still_reported_as_the_suites_mistake(demo_project):
    challenge, good = demo_with(demo_project, before="import not_a_module_anywhere\n")
    with conformance.TrustedRuns() as trusted:
        with pytest.raises(Exception, match="does not collect.*not_a_module_anywhere"):
            records(challenge, good, trusted)
        assert trusted._suites[str(challenge.path)] is None


def test_an_adapter_and_its_mapping_reach_a_forked_run(demo_project):
    challenge = load_challenge(demo_project.challenges_dir / "demo")
    folder = write(demo_project.solutions_dir / "m" / "demo" / "mathx.py", "def plus(a, b):\n    return a + b\n").parent
    adapter_dir = write(demo_project.adapters_dir / "m" / "demo" / "adapter.toml", 'notes = "x"\n').parent
    adapter = Adapter(adapter_dir, mapping={"add": "mathx.plus"})
    with conformance.TrustedRuns() as trusted:
        phase, tests, traps = records(challenge, folder, trusted, adapter=adapter)
        assert trusted._suites[str(challenge.path)] is not None
    assert phase.status == "ok" and traps == {"wrong_sign": "avoided"}, phase.reason


def wait_gone(pid: int, timeout: float) -> bool:
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


CRASHING_TEST = """

@pytest.mark.prompt("crash")
def test_trusted_side_crashes(solution):
    import faulthandler
    solution.add(1, 1)
    faulthandler._sigsegv()
"""


def test_a_forked_run_that_crashes_leaves_its_traceback_in_its_own_log(demo_project):
    """pytest's faulthandler was set up in the suite server; a run's fatal error is reported in the run's log."""
    challenge, good = demo_with(demo_project, after=CRASHING_TEST)
    with conformance.TrustedRuns() as trusted:
        phase, _tests, traps = records(challenge, good, trusted)
        assert trusted._suites[str(challenge.path)] is not None
        server_log = (Path(trusted._logs.name) / "demo.log").read_text()
    assert phase.status == "harness_error" and set(traps.values()) == {"not_run"}
    assert "Fatal Python error" in phase.log_tail and "test_trusted_side_crashes" in phase.log_tail
    assert "Fatal Python error" not in server_log


def test_a_stop_ends_a_wait_for_a_suite_server_still_collecting(demo_project, tmp_path):
    """Ctrl-C while a suite still collects: nothing waits the server's start-up timeout out."""
    conftest = demo_project.challenges_dir / "demo" / "conformance" / "conftest.py"
    conftest.write_text("import os, time\nif os.environ.get('LLMBENCH_SUITE_SERVER'):\n    time.sleep(120)\n")
    challenge = load_challenge(demo_project.challenges_dir / "demo")
    with conformance.TrustedRuns() as trusted:
        trusted.prepare([challenge])
        deadline = time.monotonic() + 30
        while trusted._suites.get(str(challenge.path)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        suite = trusted._suites[str(challenge.path)]
        waiter = threading.Thread(target=trusted.ready, args=(challenge,))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive()  # still collecting (it sleeps)
        began = time.monotonic()
        trusted.stop_all()
        waiter.join(10)
        assert not waiter.is_alive() and time.monotonic() - began < 10
        assert suite.wait(10) == -signal.SIGKILL and trusted._suites[str(challenge.path)] is None


def test_only_challenges_whose_conformance_will_run_get_a_suite_server(demo_project):
    """A solution without an adapter records our gap without running the suite; a reused
    conformance phase runs nothing: neither starts a suite server."""
    from llmbench.runner import Job
    from llmbench.solution import Adapter

    challenge = load_challenge(demo_project.challenges_dir / "demo")
    folder = demo_project.solutions_dir / "m" / "demo"
    assert Job(challenge, "m", folder).needs_suite_server
    assert Job(challenge, "_reference", challenge.reference_dir, run_kind="mutant", trap="wrong_sign").needs_suite_server
    no_adapter = Adapter(None, no_adapter="entry points missing")
    assert not Job(challenge, "m", folder, no_adapter).needs_suite_server
    reused = Job(challenge, "m", folder)
    reused.reuse["conformance"] = object()
    assert not reused.needs_suite_server
