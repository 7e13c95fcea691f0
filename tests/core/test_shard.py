"""Shards partition the plan from result keys alone; merge reproduces an unsharded run."""
import json
import shutil

import pytest

from llmbench.cli import main
from llmbench.errors import LlmbenchError
from llmbench.runner import make_plan
from llmbench.shard import merge, select_shard, shard_of
from tests.conftest import add_solution

GOOD = {"demo.py": "def add(a, b):\n    return a + b\n"}
STABLE = ("model", "challenge", "run_kind", "mutant_trap", "status", "traps", "key", "loc", "files", "adapter")


def comparable(path):
    data = json.loads(path.read_text())
    return {k: data[k] for k in STABLE}


def test_shard_assignment_is_a_partition():
    keys = [f"{i:064x}" for i in range(200)]
    shards = [shard_of(k, 3) for k in keys]
    assert set(shards) == {1, 2, 3}
    assert shards == [shard_of(k, 3) for k in keys]


def test_shards_then_merge_equal_an_unsharded_run(demo_project, tmp_path):
    for m in ("m1", "m2", "m3"):
        add_solution(demo_project, m, GOOD)
    plan = make_plan(demo_project)
    parts = [select_shard(plan.jobs, f"{i}/2") for i in (1, 2)]
    assert sorted(j.label for p in parts for j in p) == sorted(j.label for j in plan.jobs)
    folders = []
    for i in (1, 2):
        assert main(["run", "--shard", f"{i}/2", "--jobs", "2"]) == 0
        folders.append(tmp_path / f"shard{i}")
        demo_project.results_dir.mkdir(exist_ok=True)  # a shard may be empty
        shutil.move(demo_project.results_dir, folders[-1])
    assert main(["merge", str(folders[0]), str(folders[1])]) == 0
    merged = {p.relative_to(demo_project.results_dir): comparable(p) for p in demo_project.results_dir.rglob("*.json")}
    shutil.move(demo_project.results_dir, tmp_path / "merged")
    assert main(["run", "--jobs", "2"]) == 0
    single = {p.relative_to(demo_project.results_dir): comparable(p) for p in demo_project.results_dir.rglob("*.json")}
    assert merged == single and len(single) == 5


def test_merge_refuses_conflicting_keys(demo_project, tmp_path):
    add_solution(demo_project, "m1", GOOD)
    assert main(["run", "--no-controls"]) == 0
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(demo_project.results_dir, a)
    shutil.copytree(demo_project.results_dir, b)
    f = b / "m1" / "demo.json"
    data = json.loads(f.read_text())
    data["key"] = "0" * 64
    f.write_text(json.dumps(data))
    with pytest.raises(LlmbenchError, match="conflict"):
        merge([a, b], tmp_path / "out")
