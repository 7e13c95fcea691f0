"""Phase-level cache keys: each phase re-runs exactly when one of its own inputs changed."""
import pytest

from llmbench.cli import main
from llmbench.phases.builtin import ConformancePhase, OwnTestsPhase
from llmbench.runner import make_plan
from llmbench.store import ResultStore
from tests.conftest import add_solution, write

RENAMED = {"mathx.py": "def plus(a, b):\n    return a + b\n",
           "test_mathx.py": "from mathx import plus\n\ndef test_plus():\n    assert plus(2, 3) == 5\n"}


@pytest.fixture
def calls(monkeypatch):
    """How often each phase really ran (the phases' run methods, wrapped)."""
    counts = {"own_tests": [], "conformance": []}
    for cls in (OwnTestsPhase, ConformancePhase):
        real = cls.run

        def counted(self, ctx, real=real):
            counts[self.name].append(ctx.source)
            return real(self, ctx)

        monkeypatch.setattr(cls, "run", counted)
    return counts


def result(project, model="model-c"):
    return ResultStore(project.results_dir).solutions()[(model, "demo")]


def test_adapter_edit_reruns_conformance_only_and_reuses_own_tests(demo_project, calls, capsys):
    add_solution(demo_project, "model-c", RENAMED)
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    first = result(demo_project)
    assert first.status == "needs_adapter" and "entry point add not found" in first.reason
    assert first.phases["own_tests"].status == "ok" and first.phases["own_tests"].key
    assert len(calls["own_tests"]) == 1 and len(calls["conformance"]) == 1

    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml", '[entry_points]\nadd = "mathx.plus"\n')
    capsys.readouterr()
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    out = capsys.readouterr().out
    assert len(calls["own_tests"]) == 1, "an adapter edit re-ran the own tests, which never see the adapter"
    assert len(calls["conformance"]) == 2
    assert "1 to run, 0 cached" in out and "why: adapter changed" in out
    assert "model-c/demo: adapter changed: re-runs conformance; reuses own_tests" in out
    second = result(demo_project)
    assert second.status == "ok" and second.traps["wrong_sign"].status == "avoided"
    own_before, own_after = first.phases["own_tests"], second.phases["own_tests"]
    assert own_after.reused_from.startswith(first.provenance.date)
    assert own_after.model_dump(exclude={"reused_from"}) == own_before.model_dump(exclude={"reused_from"})
    assert second.phases["conformance"].reused_from == ""
    assert second.inputs["adapter"] != first.inputs["adapter"]
    assert second.inputs["solution files"] == first.inputs["solution files"]


def test_solution_edit_reruns_every_phase(demo_project, calls):
    folder = add_solution(demo_project, "model-c", RENAMED)
    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml", '[entry_points]\nadd = "mathx.plus"\n')
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    write(folder / "mathx.py", "def plus(a, b):\n    return b + a\n")
    plan = make_plan(demo_project, controls=False)
    (job,) = plan.to_run
    assert job.why == ["solution files"] and job.reuse == {}
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    assert len(calls["own_tests"]) == 2 and len(calls["conformance"]) == 2
    assert all(p.reused_from == "" for p in result(demo_project).phases.values())


def test_suite_edit_reruns_conformance_and_a_patch_edit_only_its_mutant(demo_project, calls):
    add_solution(demo_project, "model-c", RENAMED)
    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml", '[entry_points]\nadd = "mathx.plus"\n')
    assert main(["run", "--jobs", "1"]) == 0
    assert (len(calls["own_tests"]), len(calls["conformance"])) == (1, 3)
    suite = demo_project.challenges_dir / "demo" / "conformance" / "test_demo.py"
    suite.write_text(suite.read_text() + "\n# a comment\n")
    plan = make_plan(demo_project)
    assert sorted(j.label for j in plan.to_run) == ["demo:mutant wrong_sign", "demo:reference", "model-c/demo"]
    assert all(j.why == ["suite"] and j.rerun_phases == ["conformance"] for j in plan.to_run)
    assert main(["run", "--jobs", "1"]) == 0
    assert (len(calls["own_tests"]), len(calls["conformance"])) == (1, 6)

    patch = demo_project.challenges_dir / "demo" / "mutants" / "wrong_sign.patch"
    patch.write_text(patch.read_text() + "\n")
    assert [j.label for j in make_plan(demo_project).to_run] == ["demo:mutant wrong_sign"]
    # the reference/ and mutants/ are the controls' inputs, not the suite's
    write(demo_project.challenges_dir / "demo" / "reference" / "notes.txt", "a note\n")
    assert sorted(j.label for j in make_plan(demo_project).to_run) == ["demo:mutant wrong_sign", "demo:reference"]


def test_status_names_the_changed_component(demo_project, capsys, monkeypatch):
    add_solution(demo_project, "model-c", RENAMED)
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    capsys.readouterr()
    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml", '[entry_points]\nadd = "mathx.plus"\n')
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "stale  model-c/demo  (adapter changed: re-runs conformance; reuses own_tests)" in out
    assert "missing  demo:reference" in out

    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    capsys.readouterr()
    isolation = result(demo_project).inputs["isolation"]
    other = "bwrap" if isolation.startswith("fallback") else "fallback"
    from llmbench.sandbox import bwrap_problem

    if other == "fallback" or not bwrap_problem():
        assert main(["status", "--isolation", other]) == 0
        assert "stale  model-c/demo  (isolation changed: re-runs own_tests, conformance)" in capsys.readouterr().out

    monkeypatch.setattr("llmbench.keys.HARNESS_VERSION", "999")
    assert main(["status"]) == 0
    assert "stale  model-c/demo  (harness version changed: re-runs own_tests, conformance)" in capsys.readouterr().out


def test_own_test_limit_in_the_adapter_reruns_own_tests_only(demo_project, calls):
    add_solution(demo_project, "model-c", RENAMED)
    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml", '[entry_points]\nadd = "mathx.plus"\n')
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    write(demo_project.adapters_dir / "model-c" / "demo" / "adapter.toml",
          '[entry_points]\nadd = "mathx.plus"\n[limits]\nown_tests_timeout_s = 90\n')
    (job,) = make_plan(demo_project, controls=False).to_run
    # the adapter's files changed too, so conformance re-runs; own tests re-run for their limit
    assert job.rerun_phases == ["own_tests", "conformance"] and set(job.why) == {"limits", "adapter"}
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    assert (len(calls["own_tests"]), len(calls["conformance"])) == (2, 2)


def test_the_shared_adapter_kit_is_part_of_the_key_of_exactly_the_adapters_that_import_it(tmp_path, monkeypatch):
    from llmbench import keys

    user, plain = tmp_path / "user", tmp_path / "plain"
    write(user / "adapter.py", "from llmbench.adapter_kit.dflash import additive_mask_flat_emitted\n")
    write(plain / "adapter.py", "def f():\n    return 1\n")
    before = {a: keys.tree_digest(a, "adapter", extra=keys.adapter_kit_digest(a)) for a in (user, plain)}
    kit = tmp_path / "kit"
    write(kit / "dflash.py", "# edited\n")
    monkeypatch.setattr(keys, "ADAPTER_KIT", kit)
    after = {a: keys.tree_digest(a, "adapter", extra=keys.adapter_kit_digest(a)) for a in (user, plain)}
    assert after[user] != before[user] and after[plain] == before[plain]
    assert keys.adapter_kit_digest(None) == b""
