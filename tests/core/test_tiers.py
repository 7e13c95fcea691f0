"""Conformance tiers: every test says whether it checks the study's prompt or goes beyond it;
only prompt tests decide status and traps."""
from llmbench.cli import main
from llmbench.store import ResultStore
from tests.conftest import add_solution
from tests.core.test_runner import GOOD, run

BEYOND_TEST = '''

@pytest.mark.beyond("integers only: stricter than the prompt")
def test_integers_stay_integers(solution, record_metric):
    assert isinstance(solution.add(1, 2), int)
'''


def suite(project):
    return project.challenges_dir / "demo" / "conformance" / "test_demo.py"


def test_a_test_without_a_tier_is_a_suite_error(demo_project, capsys):
    path = suite(demo_project)
    path.write_text(path.read_text().replace('@pytest.mark.prompt("Write add(a, b): signs")\n', ""))
    assert main(["validate", "demo"]) == 2
    err = capsys.readouterr().err
    assert "conformance/test_demo.py" in err and "test_sign declares no tier" in err
    assert "@pytest.mark.prompt" in err and "@pytest.mark.beyond" in err


def test_a_beyond_test_may_not_decide_a_trap(demo_project, capsys):
    path = suite(demo_project)
    path.write_text(path.read_text().replace('@pytest.mark.prompt("Write add(a, b): signs")',
                                             '@pytest.mark.beyond("stricter")'))
    assert main(["validate", "demo"]) == 2
    assert "test_sign is beyond the prompt but marks trap 'wrong_sign'" in capsys.readouterr().err


def test_beyond_failures_are_counted_apart_and_decide_nothing(demo_project):
    path = suite(demo_project)
    path.write_text(path.read_text() + BEYOND_TEST)
    add_solution(demo_project, "model-float", {**GOOD, "demo.py": "def add(a, b):\n    return float(a + b) if isinstance(a, int) else a + b\n"})
    assert run(demo_project, "--no-controls") == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-float", "demo")]
    phase = res.phases["conformance"]
    assert res.status == "ok" and phase.status == "ok", res.reason
    assert res.traps["wrong_sign"].status == "avoided"
    assert phase.counts == {"passed": 2} and phase.beyond_counts == {"failed": 1}
    beyond = next(t for t in phase.tests if t.name == "test_integers_stay_integers")
    assert beyond.outcome == "failed" and beyond.tier == "beyond" and beyond.tier_note.startswith("integers only")
    sign = next(t for t in phase.tests if t.name == "test_sign")
    assert sign.tier == "prompt" and sign.tier_note == "Write add(a, b): signs"


def test_a_suite_that_does_not_collect_is_a_suite_error_not_an_ok_reference(demo_project, capsys):
    path = suite(demo_project)
    path.write_text("import not_a_module_anywhere\n" + path.read_text())
    assert main(["validate", "demo"]) == 2
    err = capsys.readouterr().err
    assert "conformance/test_demo.py" in err and "does not collect" in err and "not_a_module_anywhere" in err


def _graded_result(tier: str):
    from llmbench.schema import PhaseResult, Provenance, Result, TestRecord, TrapVerdict

    tests = [TestRecord(name="test_sign", outcome="passed", trap="wrong_sign", tier="prompt", tier_note="s"),
             TestRecord(name="test_extra", outcome="failed", message="AssertionError: stricter", tier=tier,
                        tier_note="x")]
    conformance = PhaseResult(name="conformance", status="ok" if tier == "beyond" else "failed", tests=tests)
    prov = Provenance(llmbench_version="0", harness_version="1", suite_version="1", commit="c", date="d",
                      python="3.11", numpy="2")
    return Result(model="m", challenge="demo", status="ok" if tier == "beyond" else "failed",
                  phases={"conformance": conformance}, traps={"wrong_sign": TrapVerdict(status="avoided")},
                  provenance=prov, key="k")


def test_only_prompt_tests_raise_grade_versus_evidence_flags():
    from llmbench.evidence import flags

    assert [f.rule for f in flags("A", _graded_result("prompt"))], "a failed prompt test contradicts an A"
    assert not flags("A", _graded_result("beyond")), "a failed beyond-the-prompt test is no evidence against an A"
