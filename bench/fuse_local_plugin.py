"""Stand-in for llmbench.conformance.plugin, for GPU checks of the fuse suite where the full
harness (pydantic, bubblewrap) is not installed: the solution is loaded IN-PROCESS through
llmbench.kinds.cuda.load_for_challenge, with no sandbox. Use it only on trusted code (our
reference and its mutants).

    PYTHONPATH=src:bench python3 -m pytest challenges/fuse/conformance -p fuse_local_plugin \
        --fuse-solution DIR [--fuse-only-trap TRAP] [--fuse-out records.json]
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmbench.kinds import cuda

_RECORDS: dict[str, dict] = {}
os.environ.setdefault("LLMBENCH_CUDA_KEEP_PROCESS", "1")  # a kernel fault fails the test, not pytest


def pytest_addoption(parser):
    parser.addoption("--fuse-solution", help="folder with the .cu files")
    parser.addoption("--fuse-adapter", default=None)
    parser.addoption("--fuse-only-trap", default=None)
    parser.addoption("--fuse-out", default=None)


def pytest_configure(config):
    config.addinivalue_line("markers", "trap(id): the trap this test detects")
    config.addinivalue_line("markers", "smoke: also run for every mutant")


def _trap(item):
    mark = item.get_closest_marker("trap")
    return mark.args[0] if mark else None


def pytest_collection_modifyitems(config, items):
    only = config.getoption("--fuse-only-trap")
    if only:
        items[:] = [i for i in items if _trap(i) == only or i.get_closest_marker("smoke")]


class LocalSolution:
    def __init__(self, folder: Path, adapter: Path | None):
        start = time.perf_counter()
        # Build in a copy: the loader writes .llmbench_build/ into the folder it is given.
        self.copy = Path(tempfile.mkdtemp(prefix="fuse-local-")) / folder.name
        shutil.copytree(folder, self.copy, symlinks=True)
        self.entries = cuda.load_for_challenge(self.copy, adapter, Path(__file__).resolve().parents[1] / "challenges" / "fuse")
        self.load_s = time.perf_counter() - start

    def __getattr__(self, name):
        entries = self.__dict__.get("entries", {})
        if name in entries:
            return entries[name]
        raise AttributeError(f"entry point {name} not found")

    def has(self, name: str) -> bool:
        return name in self.entries

    def call(self, entry, *args, timeout=None, measure_memory=False, **kwargs):
        start = time.perf_counter()
        value = self.entries[entry](*args, **kwargs)
        return SimpleNamespace(value=value, seconds=time.perf_counter() - start)


@pytest.fixture(scope="session")
def _local(request, gpu):
    if gpu is None:
        pytest.skip("no CUDA device")
    folder = request.config.getoption("--fuse-solution")
    if not folder:
        pytest.skip("no --fuse-solution given")
    adapter = request.config.getoption("--fuse-adapter")
    local = LocalSolution(Path(folder).resolve(), Path(adapter).resolve() if adapter else None)
    yield local
    shutil.rmtree(local.copy.parent, ignore_errors=True)


@pytest.fixture
def solution(_local):
    return _local


@pytest.fixture(scope="session")
def gpu():
    return cuda.detect_gpu()


@pytest.fixture(scope="session")
def challenge():
    return None


@pytest.fixture
def record_metric(request):
    def record(name, value):
        request.node.user_properties.append(("metric", (name, float(value))))

    return record


@pytest.fixture
def inputs(request):
    def describe(text):
        request.node.user_properties.append(("inputs", str(text)))

    return describe


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        metrics = {v[0]: v[1] for k, v in item.user_properties if k == "metric"}
        message = ""
        if not rep.passed:
            message = str(rep.longrepr)[-1500:]
        _RECORDS[item.name] = {"name": item.name, "trap": _trap(item), "outcome": rep.outcome,
                               "seconds": round(rep.duration, 3), "metrics": metrics, "message": message}


def pytest_sessionfinish(session, exitstatus):
    out = session.config.getoption("--fuse-out")
    if out:
        Path(out).write_text(json.dumps(list(_RECORDS.values()), indent=1))
