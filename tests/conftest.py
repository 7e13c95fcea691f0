"""Shared fixtures: a tiny self-contained llmbench project in a temporary folder."""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

DEMO_TOML_TEMPLATE = """
id = "demo"
title = "Demo"
difficulty = "Easy"
kind = "python"
summary = "Adds numbers."
[limits]
{limits}
[[entry_points]]
name = "add"
signature = "add(a, b) -> a + b"
[[traps]]
id = "wrong_sign"
title = "Subtracts instead of adding"
[[metrics]]
name = "abs_error"
unit = ""
better = "lower"
"""


def demo_toml(limits: dict) -> str:
    """challenge.toml of the demo challenge with the given [limits]."""
    return DEMO_TOML_TEMPLATE.format(limits="\n".join(f"{k} = {v}" for k, v in limits.items()))


DEMO_TOML = demo_toml({"call_timeout_s": 10, "own_tests_timeout_s": 60})

DEMO_REFERENCE = """
import numpy as np

def add(a, b):
    return a + b
"""

DEMO_TESTS = """
import numpy as np
import pytest

@pytest.mark.prompt("Write add(a, b): arrays")
@pytest.mark.smoke
def test_arrays(solution, record_metric, inputs):
    inputs("a=arange(3) b=2")
    out = solution.add(np.arange(3.0), 2.0)
    record_metric("abs_error", float(np.abs(out - [2.0, 3.0, 4.0]).max()))
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 3.0, 4.0]

@pytest.mark.trap("wrong_sign")
@pytest.mark.prompt("Write add(a, b): signs")
def test_sign(solution):
    assert solution.add(1, -1) == 0
    assert solution.add(2, 5) == 7
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def make_patch(original: Path, changed_text: str, patch: Path) -> None:
    """A unified diff turning `original` into `changed_text` (paths a/<name> b/<name>)."""
    work = patch.parent / ".mk"
    (work / "a").mkdir(parents=True, exist_ok=True)
    (work / "b").mkdir(parents=True, exist_ok=True)
    shutil.copy(original, work / "a" / original.name)
    (work / "b" / original.name).write_text(changed_text)
    out = subprocess.run(["diff", "-u", f"a/{original.name}", f"b/{original.name}"], cwd=work,
                         capture_output=True, text=True).stdout
    patch.write_text(out)
    shutil.rmtree(work)


@pytest.fixture
def demo_project(tmp_path, monkeypatch):
    """A project with one challenge (demo: reference + one mutant) and no solutions."""
    root = tmp_path / "proj"
    c = root / "challenges" / "demo"
    write(c / "challenge.toml", DEMO_TOML)
    write(c / "PROMPT.md", "# Demo\nWrite add(a, b).\n")
    ref = write(c / "reference" / "demo.py", DEMO_REFERENCE)
    write(c / "conformance" / "test_demo.py", DEMO_TESTS)
    (c / "mutants").mkdir()
    make_patch(ref, ref.read_text().replace("return a + b", "return a - b if isinstance(a, int) else a + b"),
               c / "mutants" / "wrong_sign.patch")
    (root / "solutions").mkdir()
    (root / "adapters").mkdir()
    monkeypatch.setenv("LLMBENCH_ROOT", str(root))
    from llmbench.project import Project

    return Project(root)


def add_solution(project, model: str, files: dict[str, str], challenge: str = "demo") -> Path:
    folder = project.solutions_dir / model / challenge
    for name, text in files.items():
        write(folder / name, text)
    return folder


@pytest.fixture
def isolation_modes():
    from llmbench.sandbox import bwrap_problem

    return ["fallback"] + ([] if bwrap_problem() else ["bwrap"])


def bwrap_or_skip():
    from llmbench.sandbox import bwrap_problem

    if bwrap_problem():
        pytest.skip(f"bubblewrap unavailable: {bwrap_problem()}")


def pytest_collection_modifyitems(config, items):
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
