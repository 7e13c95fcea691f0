"""Finding a solution's own tests: read statically, in a limited child process, never imported.

Kept apart from the phase that runs them (`llmbench.phases.own_tests`) so that the child
imports only what reading sources needs (~50 ms instead of ~0.45 s with the phase's
sandbox and schema modules, paid once per solution).
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from ..asserts import count_asserts, find_test_functions, has_main_block, is_pytest_file, missing_dependencies, parse
from ..files import solution_files

MAX_ANALYSED_BYTES = 4 * 1024 * 1024  # larger .py files are data, not tests: not parsed here


def analysable_files(folder: Path) -> list[Path]:
    """The solution files this trusted process may read: regular files of modest size.

    Never follow a symlink or open a FIFO/device here: a solution's `x.py -> /dev/zero`
    would otherwise make the harness itself read forever (found by tests/hostile).
    """
    out = []
    for rel in solution_files(folder):
        try:
            st = os.lstat(folder / rel)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_ANALYSED_BYTES:
            out.append(rel)
    return out


def discover(folder: Path) -> tuple[list[Path], list[Path], dict[str, int]]:
    """(pytest targets, scripts, assert counts by 'file::test') for a solution folder."""
    targets, scripts, asserts = [], [], {}
    for rel in analysable_files(folder):
        if rel.suffix != ".py" or rel.name == "conftest.py":
            continue
        tree = parse(folder / rel)
        if tree is None:
            continue
        tests = find_test_functions(tree)
        if is_pytest_file(rel) or tests:
            targets.append(rel)
            for name, node in tests.items():
                asserts[f"{rel.as_posix()}::{name}"] = count_asserts(node)
        elif has_main_block(tree):
            scripts.append(rel)
            asserts[rel.as_posix()] = count_asserts(tree)
    return targets, (scripts if not targets else []), asserts


ANALYSIS_MEMORY_BYTES = 1536 * 1024**2
ANALYSIS_TIMEOUT_S = 120.0


def analyse(folder: Path) -> tuple[list[Path], list[Path], dict[str, int], list[str], str]:
    """discover() and missing_dependencies() in a child process with an address-space and CPU
    limit: parsing a hostile 4 MB source can take gigabytes and minutes (found by review), and
    must cost the solution its own-test discovery, never the harness. Only the AST is read.

    -> (pytest targets, scripts, assert counts, missing dependencies, why it gave up or "").
    """
    import resource
    import subprocess

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (ANALYSIS_MEMORY_BYTES, ANALYSIS_MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (int(ANALYSIS_TIMEOUT_S), int(ANALYSIS_TIMEOUT_S) + 5))

    # Isolated (-s -P) from "/": whatever the caller's working folder holds (a solution's
    # json.py, say) is never imported by this trusted process.
    argv = [sys.executable, "-s", "-P", "-m", "llmbench.phases.discovery", str(Path(folder).resolve())]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=ANALYSIS_TIMEOUT_S, preexec_fn=limit, cwd="/")
    except subprocess.TimeoutExpired:
        return [], [], {}, [], f"reading the sources took over {ANALYSIS_TIMEOUT_S:g} s"
    try:
        data = json.loads(proc.stdout) if proc.returncode == 0 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return [], [], {}, [], f"a source file could not be analysed within limits ({tail[0][:200]})"
    return ([Path(p) for p in data["targets"]], [Path(p) for p in data["scripts"]], data["asserts"],
            data["missing"], "")


def _analyse_here(folder: Path) -> dict:
    targets, scripts, asserts = discover(folder)
    missing = missing_dependencies(folder, analysable_files(folder))
    return {"targets": [t.as_posix() for t in targets], "scripts": [s.as_posix() for s in scripts],
            "asserts": asserts, "missing": missing}

if __name__ == "__main__":  # the limited child of analyse()
    sys.stdout.write(json.dumps(_analyse_here(Path(sys.argv[1]))))
