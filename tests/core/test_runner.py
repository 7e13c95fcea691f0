"""Planning, caching, results on disk and the run / validate / status commands."""
import json
import os

import pytest

from llmbench.cli import main
from llmbench.runner import make_plan, run_plan
from llmbench.store import ResultStore, write_atomic
from tests.conftest import add_solution, write

GOOD = {"demo.py": "def add(a, b):\n    return a + b\n",
        "test_demo.py": "from demo import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"}


def run(project, *args):
    return main(["run", "--jobs", "2", *args])


def test_run_twice_reruns_nothing_and_an_edit_reruns_only_that_solution(demo_project, capsys, monkeypatch):
    add_solution(demo_project, "model-a", GOOD)
    add_solution(demo_project, "model-b", GOOD)
    assert run(demo_project) == 0
    store = ResultStore(demo_project.results_dir)
    first = {k: r.provenance.date + r.key for k, r in store.solutions().items()}
    assert set(first) == {("model-a", "demo"), ("model-b", "demo")}
    assert (demo_project.results_dir / "_controls" / "demo" / "reference.json").exists()
    assert (demo_project.results_dir / "_controls" / "demo" / "mutant-wrong_sign.json").exists()

    import llmbench.runner as runner_module

    checked, original = [], runner_module.check_trap_marks
    monkeypatch.setattr(runner_module, "check_trap_marks", lambda c: (checked.append(c.id), original(c)))
    plan = make_plan(demo_project)
    assert plan.to_run == [] and checked == []  # nothing to run: no suite is parsed
    write(demo_project.solutions_dir / "model-b" / "demo" / "demo.py", "def add(a, b):\n    return b + a\n")
    plan = make_plan(demo_project)
    assert [j.label for j in plan.to_run] == ["model-b/demo"] and checked == ["demo"]
    capsys.readouterr()
    assert run(demo_project) == 0
    assert "1 to run, 3 cached" in capsys.readouterr().out
    after = {k: r.provenance.date + r.key for k, r in store.solutions().items()}
    assert after[("model-a", "demo")] == first[("model-a", "demo")]
    assert after[("model-b", "demo")] != first[("model-b", "demo")]


def test_result_contents(demo_project):
    add_solution(demo_project, "model-a", GOOD)
    add_solution(demo_project, "model-bad", {"demo.py": "def add(a, b):\n    return a - b if isinstance(a, int) else a + b\n"})
    assert run(demo_project) == 0
    results = ResultStore(demo_project.results_dir).solutions()
    good, bad = results[("model-a", "demo")], results[("model-bad", "demo")]
    assert good.status == "ok" and good.traps["wrong_sign"].status == "avoided"
    assert good.phases["own_tests"].counts == {"passed": 1, "asserts": 1}
    assert good.metrics["abs_error"].value == 0.0 and good.loc == 5
    assert bad.status == "failed" and bad.traps["wrong_sign"].status == "fell_in"
    assert bad.phases["own_tests"].status == "not_run"
    assert good.provenance.isolation in ("bwrap", "fallback-uid", "fallback-rlimits")
    assert len(good.key) == 64


def test_entry_point_message_then_adapter_mapping(demo_project):
    folder = add_solution(demo_project, "model-c", {"mathx.py": "def plus(a, b):\n    return a + b\n"})
    assert run(demo_project, "--no-controls") == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-c", "demo")]
    assert res.status == "needs_adapter"  # our gap (issue 11), not the solution's failure
    assert "entry point add not found (looked in mathx.py" in res.reason
    assert "map it in adapters/<model>/<challenge>/adapter.toml" in res.reason
    assert res.traps["wrong_sign"].status == "not_run"
    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml",
          'notes = "renamed"\n[entry_points]\nadd = "mathx.plus"\n')
    assert run(demo_project, "--no-controls") == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-c", "demo")]
    assert res.status == "ok" and res.traps["wrong_sign"].status == "avoided"
    assert res.adapter.kind == "mapping" and res.adapter.mapping == {"add": "mathx.plus"}
    assert folder.joinpath("mathx.py").read_text().startswith("def plus")  # raw output untouched


def test_validate_reports_traps_caught(demo_project, capsys):
    assert main(["validate", "demo"]) == 0
    assert "demo: reference ok, traps caught 1/1" in capsys.readouterr().out


def test_validate_fails_when_a_mutant_is_not_caught(demo_project, capsys):
    patch = demo_project.challenges_dir / "demo" / "mutants" / "wrong_sign.patch"
    patch.write_text(patch.read_text().replace("return a - b if isinstance(a, int) else a + b", "return b + a"))
    assert main(["validate", "demo"]) == 1
    assert "traps caught 0/1 (missed: wrong_sign)" in capsys.readouterr().out


def test_status_lists_missing_cached_and_orphaned(demo_project, capsys):
    add_solution(demo_project, "model-a", GOOD)
    write(demo_project.results_dir / "ghost" / "demo.json", "{}")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "missing  model-a/demo" in out and "orphaned  results/ghost/demo.json" in out


def test_corrupt_result_is_treated_as_missing_and_rerun(demo_project):
    add_solution(demo_project, "model-a", GOOD)
    path = demo_project.results_dir / "model-a" / "demo.json"
    write(path, '{"schema_version": 1, "model": "model-a", "chall')
    with pytest.warns(UserWarning, match="treated as missing"):
        plan = make_plan(demo_project, controls=False)
    assert [j.label for j in plan.to_run] == ["model-a/demo"]
    assert run(demo_project, "--no-controls") == 0
    assert json.loads(path.read_text())["status"] == "ok"


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    target.write_text("old")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_unknown_challenge_and_bad_toml_are_clear_errors(demo_project, capsys):
    assert main(["run", "--challenge", "nope"]) == 2
    assert "unknown challenge nope; valid: demo" in capsys.readouterr().err
    (demo_project.challenges_dir / "demo" / "challenge.toml").write_text("id = \n")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "challenges/demo/challenge.toml" in err and "is not valid TOML" in err


def test_an_undeclared_metric_is_a_suite_error_not_the_solutions(demo_project):
    add_solution(demo_project, "model-a", GOOD)
    test = demo_project.challenges_dir / "demo" / "conformance" / "test_demo.py"
    test.write_text(test.read_text().replace('record_metric("abs_error"', 'record_metric("abs_err"'))
    assert run(demo_project, "--no-controls") == 1  # a harness error: the suite must be fixed
    res = ResultStore(demo_project.results_dir).solutions()[("model-a", "demo")]
    assert res.status == "harness_error" and "metric 'abs_err'" in res.reason and "not declared" in res.reason


def test_adapter_limit_overrides_apply(demo_project):
    # Each call sleeps 1.5 s: over the challenge's 1 s call limit, well under the adapter's 20 s.
    add_solution(demo_project, "model-slow", {"demo.py": "import time\n\ndef add(a, b):\n    time.sleep(1.5)\n    return a + b\n"})
    toml = demo_project.challenges_dir / "demo" / "challenge.toml"
    toml.write_text(toml.read_text().replace("call_timeout_s = 10", "call_timeout_s = 1"))
    assert run(demo_project, "--no-controls") == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-slow", "demo")]
    assert res.status == "timeout" and "timeout after 1 s" in res.reason  # a hang reads "timed out" (issue 11)
    write(demo_project.adapters_dir / "model-slow" / "demo" / "adapter.toml", "[limits]\ncall_timeout_s = 20\n")
    assert run(demo_project, "--no-controls") == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-slow", "demo")]
    assert res.status == "ok", res.reason
    write(demo_project.adapters_dir / "model-slow" / "demo" / "adapter.toml", "[limits]\nwall = 5\n")
    assert run(demo_project, "--no-controls") == 2


def test_no_adapter_reason_makes_traps_not_run(demo_project):
    # A maintainer's no_adapter = "why": the suite never runs; the traps are not_run with that
    # reason and the status is ours (needs_adapter), never a failure of the solution.
    add_solution(demo_project, "model-n", {"other.py": "def plus(a, b):\n    return a - b\n"})
    write(demo_project.adapters_dir / "model-n" / "demo" / "adapter.toml",
          'no_adapter = "plus takes strings; no thin wrapper can map it"\n')
    assert run(demo_project, "--no-controls") == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-n", "demo")]
    assert res.status == "needs_adapter" and "plus takes strings" in res.reason
    assert res.traps["wrong_sign"].status == "not_run" and "plus takes strings" in res.traps["wrong_sign"].reason
    assert res.phases["conformance"].status == "needs_adapter"
    assert res.adapter.kind == "no_adapter" and res.adapter.no_adapter.startswith("plus takes strings")
    write(demo_project.adapters_dir / "model-n" / "demo" / "adapter.toml",
          'no_adapter = "x"\n[entry_points]\nadd = "other.plus"\n')
    assert run(demo_project, "--no-controls") == 2  # a mapping beside no_adapter is a contributor error


def test_work_that_starts_after_an_abort_is_stopped_at_once(tmp_path):
    """A phase already on its way when the run is aborted (waiting for the fork server, say)
    must not run to the end after Ctrl-C: its trusted run and its sandboxed processes are
    stopped as they start."""
    import subprocess
    import sys

    from llmbench.runner import RunSession

    session = RunSession()
    session.abort()
    proc = session.trusted.launch([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path,
                                  tmp_path / "log", None)
    assert proc.wait(timeout=15) is not None  # stopped, not left to sleep its 60 s

    killed = []

    class Started:
        def kill(self):
            killed.append(self)

    late = Started()
    session.processes.add(late)
    assert killed == [late] and len(session.processes) == 0


def test_a_worker_that_cannot_be_set_up_fails_each_test_with_the_reason(demo_project):
    """The plugin launches the worker while pytest collects; if that cannot even be set up
    (here: an isolation mode that does not exist), each test still records why, as when the
    worker started at the first call (not a bare "ended without records")."""
    from llmbench.challenge import load_challenge
    from llmbench.phases.conformance import run_conformance
    from llmbench.solution import Adapter

    c = load_challenge(demo_project.challenges_dir / "demo")
    phase, _traps, _ = run_conformance(c, c.reference_dir, Adapter(path=None), "no-such-isolation")
    assert phase.tests, phase.reason
    assert all("no-such-isolation" in t.message for t in phase.tests if t.outcome != "passed"), \
        [t.message for t in phase.tests]
