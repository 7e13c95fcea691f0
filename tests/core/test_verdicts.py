"""Issue 11, end to end: the real runner, plugin and sandboxed worker on small solutions.

A trap is fallen into only on behavioural evidence. A calling-convention mismatch, a missing
dependency caught by a suite's broad `except`, an ambiguous entry point give not_run with a
reason, never fell_in; and a solution cannot fake "not run" by raising the harness's own
exceptions on a trap's inputs.
"""
from __future__ import annotations

import pytest

from llmbench.cli import main
from llmbench.store import ResultStore
from tests.conftest import add_solution, write

# The demo suite's trap test, written the way ternary_training's remainder test was: it
# catches every exception and fails with its own message.
BROAD_EXCEPT_TESTS = """
import numpy as np
import pytest

@pytest.mark.prompt("Write add(a, b): arrays")
@pytest.mark.smoke
def test_arrays(solution, record_metric, inputs):
    out = solution.add(np.arange(3.0), 2.0)
    record_metric("abs_error", float(np.abs(out - [2.0, 3.0, 4.0]).max()))
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 3.0, 4.0]

@pytest.mark.trap("wrong_sign")
@pytest.mark.prompt("Write add(a, b): signs")
def test_sign(solution):
    try:
        got = solution.add(1, -1)
    except Exception as exc:
        pytest.fail(f"add rejected integers ({exc}): that is this trap")
    assert got == 0

@pytest.mark.prompt("Write add(a, b): several cases")
def test_cases(solution, case, record_metric):
    right = 0
    for i, (a, b) in enumerate([(1.0, 2.0), (3.0, -1.5), (0.5, 0.25)]):
        ran, got = case(f"case {i}", solution.add, a, b)
        right += bool(ran and got == a + b)
    record_metric("abs_error", 3 - right)
    assert right == 3
"""

SOLUTIONS = {
    "good": {"demo.py": "def add(a, b):\n    return a + b\n"},
    "bad-sign": {"demo.py": "def add(a, b):\n    return a - b if isinstance(a, int) else a + b\n"},
    # Calling convention: takes a model first (beam_search's four models did that).
    "model-first": {"demo.py": "def add(model, a, b):\n    return a + b\n"},
    # Needs a package we do not install (ternary_training's five needed mlx).
    "needs-pkg": {"demo.py": "import mlx_core_not_installed\n\ndef add(a, b):\n    return a + b\n"},
    # Two modules define the entry point (one model's folder held another model's file).
    "twins": {"a_impl.py": "def add(a, b):\n    return a + b\n",
              "b_impl.py": "def add(a, b):\n    return a - b\n"},
    # Forgers: correct on the smoke test, fake a gap on the trap's integer inputs.
    "forge-missing": {"demo.py": (
        "from llmbench.worker import EntryNotFound\n\n"
        "def add(a, b):\n"
        "    if isinstance(a, int):\n"
        "        raise EntryNotFound('entry point add not found')\n"
        "    return a + b\n")},
    "forge-dependency": {"demo.py": (
        "def add(a, b):\n"
        "    if isinstance(a, int):\n"
        "        raise ModuleNotFoundError(\"No module named 'mlx'\", name='mlx')\n"
        "    return a + b\n")},
    # NaN instead of numbers: the metric is not recorded, the result stays valid (it used to
    # fail its own schema, read as missing and re-run on every build).
    # Raises on one case of a multi-case test: that case is counted, the metric still recorded.
    "raise-once": {"demo.py": "def add(a, b):\n    if b == -1.5:\n        raise ValueError('no')\n    return a + b\n"},
    "nans": {"demo.py": "def add(a, b):\n    return a + b * float('nan')\n"},
    "forge-protocol": {"demo.py": (
        "def add(a, b):\n"
        "    if isinstance(a, int):\n"
        "        raise AttributeError('no attribute next_logprobs')\n"
        "    return a + b\n")},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import os

    from llmbench.project import Project
    from tests.conftest import DEMO_REFERENCE, demo_toml

    root = tmp_path_factory.mktemp("verdicts") / "proj"
    c = root / "challenges" / "demo"
    write(c / "challenge.toml", demo_toml({"call_timeout_s": 10, "own_tests_timeout_s": 60}))
    write(c / "PROMPT.md", "# Demo\nWrite add(a, b).\n")
    write(c / "reference" / "demo.py", DEMO_REFERENCE)
    write(c / "conformance" / "test_demo.py", BROAD_EXCEPT_TESTS)
    (root / "solutions").mkdir()
    (root / "adapters").mkdir()
    write(root / "pyproject.toml", "[project]\nname = 'scratch'\n")
    project = Project(root)
    for model, files in SOLUTIONS.items():
        add_solution(project, model, files)
    old = os.environ.get("LLMBENCH_ROOT")
    os.environ["LLMBENCH_ROOT"] = str(root)
    try:
        assert main(["run", "--jobs", "2", "--no-controls"]) == 0
    finally:
        if old is None:
            os.environ.pop("LLMBENCH_ROOT", None)
        else:
            os.environ["LLMBENCH_ROOT"] = old
    return ResultStore(project.results_dir).solutions()


def trap(results, model):
    return results[(model, "demo")].traps["wrong_sign"]


def test_behaviour_still_decides(results):
    assert results[("good", "demo")].status == "ok" and trap(results, "good").status == "avoided"
    assert results[("bad-sign", "demo")].status == "failed" and trap(results, "bad-sign").status == "fell_in"


def test_calling_convention_is_needs_adapter_not_a_trap(results):
    r = results[("model-first", "demo")]
    assert trap(results, "model-first").status == "not_run"
    assert r.status == "needs_adapter"
    assert "calling convention differs: needs an adapter" in r.reason
    assert "a is argument 2 here, 1 in the canonical API" in r.reason


def test_missing_dependency_caught_by_broad_except_is_not_a_trap(results):
    r = results[("needs-pkg", "demo")]
    assert trap(results, "needs-pkg").status == "not_run"
    assert trap(results, "needs-pkg").reason == "needs mlx_core_not_installed"
    assert r.status == "missing_dependency"


def test_ambiguous_entry_point_is_refused(results):
    r = results[("twins", "demo")]
    assert r.status == "needs_adapter" and trap(results, "twins").status == "not_run"
    assert "a_impl.py" in r.reason and "b_impl.py" in r.reason and "adapter.toml" in r.reason


@pytest.mark.parametrize("model", ["forge-missing", "forge-dependency", "forge-protocol"])
def test_faking_not_run_on_trap_inputs_does_not_work(results, model):
    verdict = trap(results, model)
    assert verdict.status == "fell_in", verdict
    assert results[(model, "demo")].status == "failed"


def test_a_nan_metric_is_not_recorded_and_the_result_stays_valid(results):
    r = results[("nans", "demo")]  # read back through the schema: a NaN written as null fails it
    smoke = next(t for t in r.phases["conformance"].tests if t.name == "test_arrays")
    assert r.status == "failed" and smoke.metrics == {}
    assert all(m.value == m.value for m in r.metrics.values())  # whatever is recorded is a number


def test_one_raising_case_does_not_lose_the_metric(results):
    r = results[("raise-once", "demo")]
    rec = next(t for t in r.phases["conformance"].tests if t.name == "test_cases")
    assert rec.metrics == {"abs_error": 1.0}
    assert rec.cases["case 1"].startswith("raised") and rec.cases["case 0"] == "passed"
