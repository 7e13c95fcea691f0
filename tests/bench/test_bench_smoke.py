"""The bench's synthetic-study generator on 1 challenge x 2 models (not the full bench)."""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_study_has_reference_and_mutant_solutions(bench, tmp_path):
    cid = bench.pick_challenges(1)[0]
    root = tmp_path / "project"
    chosen = bench.make_study(root, 2, [cid])

    assert sorted(chosen) == ["synthetic-1", "synthetic-2"]
    picks = [chosen[m][cid] for m in sorted(chosen)]
    assert "reference" in picks and any(p.startswith("mutant:") for p in picks)  # both kinds occur
    reference = REPO / "challenges" / cid / "reference"
    for model, pick in zip(sorted(chosen), picks):
        folder = root / "solutions" / model / cid
        assert (root / "solutions" / model / "model.toml").is_file()
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert names == sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*")
                               if p.is_file() and "__pycache__" not in p.parts)
        diff = subprocess.run(["diff", "-r", "-x", "__pycache__", str(reference), str(folder)],
                              capture_output=True, text=True)
        if pick == "reference":
            assert diff.returncode == 0, diff.stdout
        else:  # the mutant's patch was applied: the folder differs from the reference
            assert diff.returncode == 1, diff.stdout
    # the copy holds the project content, and the repository's own folders were not written
    for name in ("challenges", "data", "docs", "mkdocs.yml"):
        assert (root / name).exists()
    assert not (REPO / "solutions" / "synthetic-1").exists()
    assert not (REPO / "results" / "synthetic-1").exists()


def test_solution_choice_is_deterministic_and_mixed(bench):
    mutants = ["a", "b", "c"]
    picks = [[bench.solution_choice(i, j, mutants) for j in range(8)] for i in range(1, 7)]
    assert picks == [[bench.solution_choice(i, j, mutants) for j in range(8)] for i in range(1, 7)]
    flat = [p for row in picks for p in row]
    assert None in flat and set(mutants) <= set(flat)
    assert bench.solution_choice(1, 0, []) is None  # no mutants: the reference
