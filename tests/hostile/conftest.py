"""Fixtures of the hostile suite: run one hostile solution through the real pipeline."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import pytest

from llmbench.cli import main
from llmbench.schema import Result
from llmbench.store import ResultStore
from tests.conftest import bwrap_or_skip
from tests.hostile.helpers import (TOKEN_ENV, Listener, Scratch, boot_ticks, diff_states, leftover_copies,
                                   make_scratch, snapshot, wait_for_no_leftovers)

MODES = ["bwrap", "fallback"]


def mode_or_skip(mode: str) -> None:
    if mode == "bwrap":
        bwrap_or_skip()
    elif os.geteuid() != 0:
        pytest.skip("fallback without root runs solutions as the invoking user (no file isolation); "
                    "see docs/methodology-limits.md")


@dataclass
class HostileRun:
    scratch: Scratch
    mode: str
    rc: int
    elapsed_s: float
    result: Result | None
    result_text: str
    stdout: str
    stderr: str
    changes: dict[str, list[str]]
    leftovers: list[str]
    copies: list[str]
    drops: list[str]
    connections: int

    def messages(self, phase: str = "conformance") -> str:
        p = self.result.phases.get(phase)
        return " | ".join(t.message for t in p.tests) if p else ""


@pytest.fixture
def run_hostile(monkeypatch, capsys):
    """run_hostile(case, mode, limits=None, prepare=None) -> HostileRun (scratch removed after the test)."""
    made: list[Scratch] = []

    def run(case: str, mode: str, limits: dict | None = None, prepare=None) -> HostileRun:
        listener = Listener()
        s = make_scratch(case, limits, listener.port)
        made.append(s)
        if prepare is not None:
            prepare(s)
        monkeypatch.setenv("LLMBENCH_ROOT", str(s.project.root))
        monkeypatch.setenv("HOME", str(s.home))
        monkeypatch.setenv(TOKEN_ENV, f"env-token-{s.nonce}")
        # Speed only: the hypothesis plugin makes every trusted pytest start re-compile
        # hypothesis with assertion rewriting (no bytecode cache); the suite does not use it.
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
        before = snapshot(s)
        ticks, start = boot_ticks(), time.monotonic()
        try:
            rc = main(["run", "--model", s.model, "--no-controls", "--isolation", mode, "--jobs", "1"])
        finally:
            elapsed = time.monotonic() - start
            out = capsys.readouterr()
            listener.close()
        after = snapshot(s)
        text = s.result_path.read_text() if s.result_path.is_file() else ""
        result = ResultStore(s.project.results_dir).read(s.result_path)
        leftovers = wait_for_no_leftovers(ticks)
        drops = [p for p in s.targets["tmp_drops"] if os.path.lexists(p)]
        hr = HostileRun(s, mode, rc, elapsed, result, text, out.out, out.err,
                        {k: diff_states(before[k], after[k]) for k in before}, leftovers,
                        leftover_copies(s.nonce), drops, listener.accepted)
        _note(hr)
        return hr

    yield run
    for s in made:
        s.cleanup()


def _note(hr: HostileRun) -> None:
    """With LLMBENCH_HOSTILE_TABLE=path, append the measured outcome (for docs/methodology-limits.md)."""
    path = os.environ.get("LLMBENCH_HOSTILE_TABLE")
    if not path or hr.result is None:
        return
    r = hr.result
    phases = {k: f"{v.status}: {v.reason}"[:160] for k, v in r.phases.items()}
    first = next((t.message for t in r.phases["conformance"].tests if t.message), "") if "conformance" in r.phases else ""
    own = next((f"{t.name}: {t.outcome}: {t.message}" for t in r.phases["own_tests"].tests), "") \
        if "own_tests" in r.phases else ""
    with open(path, "a") as fh:
        fh.write(json.dumps({"case": hr.scratch.case, "mode": hr.mode, "status": r.status, "reason": r.reason[:200],
                             "first_message": first[:200], "own_test": own[:200], "phases": phases, "traps": {k: v.status for k, v in r.traps.items()},
                             "seconds": round(hr.elapsed_s, 1), "connections": hr.connections}) + "\n")
