"""Every adapter in adapters/ resolves and binds against the real study's files.

Uses the published study's tarball from ../shared/study/ (or LLMBENCH_STUDY: a folder holding
it, or an extracted copy); skips with the reason when there is none. Each Python adapter's
canonical entry points are resolved inside a sandboxed worker (the solution's modules are
imported there, never here); a CUDA adapter must include a file of the solution and define
the host function with C linkage (nvcc is too slow for a quick check: the compile phase and
the GPU run build it); no_adapter must name a solution that exists.
"""
from __future__ import annotations

import importlib.util
import os
import re
import tarfile
from pathlib import Path

import pytest

from llmbench.challenge import load_challenges
from llmbench.conformance.client import SolutionProxy, WorkerConfig
from llmbench.errors import read_toml
from llmbench.solution import load_adapter
from tests.conftest import REPO

CHALLENGES = load_challenges(REPO / "challenges")
ADAPTERS = sorted(p for p in (REPO / "adapters").glob("*/*") if p.is_dir() and p.parent.name[0] not in "._")
MLX = importlib.util.find_spec("mlx") is not None


def _study_source() -> Path | None:
    env = os.environ.get("LLMBENCH_STUDY")
    for place in ([Path(env)] if env else []) + [REPO.parent / "shared" / "study"]:
        if place.is_file() or (place / "glm5").is_dir():
            return place
        tarballs = sorted(place.glob("llm_programming_tests*.tar.gz")) if place.is_dir() else []
        if tarballs:
            return tarballs[-1]
    return None


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    source = _study_source()
    if source is None:
        pytest.skip("no copy of the published study: ../shared/study/ (or LLMBENCH_STUDY) is absent")
    if source.is_dir():
        return source
    dest = tmp_path_factory.mktemp("study")
    with tarfile.open(source) as tar:
        tar.extractall(dest, filter="data")
    return next(p.parent for p in dest.rglob("glm5") if p.is_dir())


def _bind(solution: Path, folder: Path | None, challenge, mapping: dict, wanted: list[str]) -> dict:
    proxy = SolutionProxy(WorkerConfig(solution=solution, adapter=folder, support=challenge.path,
                                       **challenge.kind_impl.worker_fields(challenge.kind_options),
                                       mapping=mapping, call_timeout_s=60, memory_mb=2048))
    try:
        return {e: proxy.probe(e).get("message", "") for e in wanted if not proxy.has(e)}
    finally:
        proxy.close()


def test_solutions_without_an_adapter_bind_as_written(study):
    # Every attempt of the study has an adapter folder, or needs none: then its files define
    # the canonical entry points themselves.
    plain = []
    for cid, challenge in CHALLENGES.items():
        for solution in sorted(study.glob(f"*/{cid}")):
            if not [f for f in solution.iterdir() if f.name != "PROMPT.md" and f.suffix != ".txt"]:
                continue  # a folder holding only the prompt and its data: no attempt
            if (REPO / "adapters" / solution.parent.name / cid).is_dir():
                continue
            assert challenge.kind == "python", f"{solution.parent.name}/{cid} needs an adapter"
            plain.append(solution)
            wanted = [e.name for e in challenge.entry_points if e.required]
            missing = _bind(solution, None, challenge, {}, wanted)
            assert not missing, f"{solution.parent.name}/{cid} needs an adapter: {missing}"
    assert plain, "the study has solutions that need no adapter (flash_attention, for one)"


@pytest.mark.parametrize("folder", ADAPTERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_adapter_binds_to_the_study_solution(folder, study, tmp_path):
    model, cid = folder.parent.name, folder.name
    challenge = CHALLENGES[cid]
    solution = study / model / cid
    assert solution.is_dir(), f"{folder.relative_to(REPO)}: the study has no {model}/{cid}"
    adapter = load_adapter(folder)
    if adapter.kind == "no_adapter":
        assert len(adapter.no_adapter) > 40, "no_adapter must say why"
        return
    if challenge.kind == "cuda":
        sources = sorted(folder.glob("*.cu"))
        assert sources, "a CUDA adapter is an adapter.cu"
        text = "\n".join(p.read_text() for p in sources)
        included = re.findall(r'#include\s+"([^"]+)"', text)
        assert included and all((solution / name).is_file() for name in included), included
        assert re.search(r'extern\s+"C"\s+int\s+fused_softmax_topk\s*\(', text)
        return
    needs = {d.split("[")[0] for d in adapter.dependencies}
    if "mlx" in needs and not MLX:
        pytest.skip("the mlx extra is not installed (pip install -e '.[mlx]')")
    offered = read_toml(folder / "adapter.toml").get("not_offered", {}) if (folder / "adapter.toml").exists() else {}
    wanted = [e.name for e in challenge.entry_points if e.required and e.name not in offered]
    missing = _bind(solution, folder, challenge, adapter.mapping, wanted)
    assert not missing, f"{model}/{cid}: entry points that do not resolve: {missing}"
