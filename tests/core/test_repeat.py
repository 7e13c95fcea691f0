"""`llmbench run --repeat N`: every result key re-run N times, results whose verdict changed reported."""
from __future__ import annotations

import numpy as np
import pytest

from llmbench.cli import main
from llmbench.runner import is_flaky, verdict_signature
from llmbench.store import ResultStore
from tests.conftest import add_solution


@pytest.mark.timeout(600)
def test_repeat_reruns_cached_keys_and_reports_the_flake_rate(demo_project, capsys):
    add_solution(demo_project, "model-a", {"demo.py": "def add(a, b):\n    return a + b\n"})
    assert main(["run", "--no-controls"]) == 0
    capsys.readouterr()
    assert main(["run", "--no-controls", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 runs planned: 1 to run, 0 cached" in out  # cached keys are re-run too
    assert "demo: flake rate 0/1 results changed verdict over 2 runs" in out
    r = ResultStore(demo_project.results_dir).solutions()[("model-a", "demo")]
    assert r.repeat_verdicts == ["ok; wrong_sign=avoided"] * 2 and not is_flaky(r)
    assert verdict_signature(r) == "ok; wrong_sign=avoided"
    r.repeat_verdicts = ["ok; wrong_sign=avoided", "failed; wrong_sign=fell_in"]
    assert is_flaky(r)


def test_repeat_needs_a_positive_count(demo_project, capsys):
    assert main(["run", "--repeat", "0"]) != 0
    assert "--repeat takes a count of at least 1" in capsys.readouterr().err


@pytest.mark.timeout(600)
def test_seeds_fixture_draws_public_seeds_and_the_builds_secret_seed(demo_project, monkeypatch):
    tests = demo_project.challenges_dir / "demo" / "conformance" / "test_seeds.py"
    tests.write_text(
        "import numpy as np\nimport pytest\n\n"
        "@pytest.mark.prompt('add')\n"
        "def test_seeded(solution, seeds):\n"
        "    assert seeds[:3] == (101, 202, 303) and seeds[3] == 4242\n"
        "    for seed in seeds:\n"
        "        a = np.random.default_rng(seed).standard_normal(5)\n"
        "        assert np.allclose(solution.add(a, 1.0), a + 1.0)\n")
    monkeypatch.setenv("LLMBENCH_SECRET_SEED", "4242")
    add_solution(demo_project, "model-a", {"demo.py": "def add(a, b):\n    return a + b\n"})
    assert main(["run", "--no-controls"]) == 0
    r = ResultStore(demo_project.results_dir).solutions()[("model-a", "demo")]
    conf = r.phases["conformance"]
    assert conf.details["secret_seed"] == 4242
    assert {t.name: t.outcome for t in conf.tests}["test_seeded"] == "passed"


def test_identical_compares_plain_data_bitwise():
    from llmbench.conformance.scale import identical

    a = (np.array([1.0, np.nan]), [1, 2], {"k": 0.5})
    assert identical(a, (np.array([1.0, np.nan]), [1, 2], {"k": 0.5}))
    assert not identical(a, (np.array([1.0, 2.0]), [1, 2], {"k": 0.5}))
    assert not identical(np.array([1.0]), np.array([1.0 + 1e-16 * 3]))
    assert not identical([1, 2], (1, 2)) and not identical(np.zeros(2, np.float32), np.zeros(2))


@pytest.mark.timeout(600)
def test_determinism_probe_records_a_finding_for_a_nondeterministic_entry(demo_project):
    toml = demo_project.challenges_dir / "demo" / "challenge.toml"
    toml.write_text(toml.read_text().replace('name = "add"\n', 'name = "add"\ndeterministic = true\n'))
    add_solution(demo_project, "steady", {"demo.py": "def add(a, b):\n    return a + b\n"})
    add_solution(demo_project, "noisy", {"demo.py": "import os\n\ndef add(a, b):\n"
                                                    "    return a + b + os.urandom(1)[0] * 1e-12\n"})
    assert main(["run", "--no-controls"]) == 0
    results = ResultStore(demo_project.results_dir).solutions()
    probe = {m: [t.scale.get("nondeterministic") for t in results[(m, "demo")].phases["conformance"].tests]
             for m in ("steady", "noisy")}
    assert probe["steady"] and all(v == 0.0 for v in probe["steady"])
    assert any(v and v >= 1 for v in probe["noisy"])
