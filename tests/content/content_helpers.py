"""Builders shared by the content tests: synthetic challenge folders and hand-built results."""
from __future__ import annotations

from pathlib import Path

from llmbench.schema import PhaseResult, Provenance, Result, TestRecord, TrapVerdict

STUDY = """
[study]
title = "A synthetic study"
source = "nowhere"
judge = "nobody"
[[models]]
folder = "alpha"
name = "Alpha One"
provider = "Lab A"
[[models]]
folder = "beta.2"
name = "Beta 2"
provider = "Lab B"
note = "a \\"quoted\\" note"
"""


def write_challenge(root: Path, cid: str, difficulty: str, kind: str = "python", prompt: str = "",
                    extra_toml: str = "", files: dict[str, bytes] | None = None) -> Path:
    folder = root / "challenges" / cid
    folder.mkdir(parents=True)
    toml = [f'id = "{cid}"', f'title = "Title of {cid}"', f'difficulty = "{difficulty}"',
            f'kind = "{kind}"', extra_toml, "[[traps]]", 'id = "t1"', 'title = "first trap"']
    (folder / "challenge.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    (folder / "PROMPT.md").write_text(prompt or f"# {cid}\nWrite it.\n", encoding="utf-8")
    for rel, data in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def phase(name: str, status: str = "ok", counts: dict | None = None, tests: list | None = None,
          reason: str = "") -> PhaseResult:
    return PhaseResult(name=name, status=status, counts=counts or {}, tests=tests or [], reason=reason)


def record(name: str, outcome: str = "passed", trap: str | None = None, asserts: int | None = None) -> TestRecord:
    return TestRecord(name=name, outcome=outcome, trap=trap, asserts=asserts)


def make_result(model: str = "m", challenge: str = "c", status: str = "ok", phases=(), traps=None,
                run_kind: str = "solution", reason: str = "") -> Result:
    return Result(
        model=model, challenge=challenge, status=status, reason=reason, run_kind=run_kind,
        phases={p.name: p for p in phases},
        traps={tid: TrapVerdict(status=s) for tid, s in (traps or {}).items()},
        provenance=Provenance(llmbench_version="0", harness_version="1", suite_version="1", commit="x",
                              date="2026-01-01", python="3.11", numpy="2"),
        key=f"{model}-{challenge}",
    )


def clean_result(model: str = "m", challenge: str = "c", **kw) -> Result:
    """A solution that does everything right: own tests with assertions, all conformance passes."""
    return make_result(
        model, challenge,
        phases=[
            phase("own_tests", counts={"passed": 3, "asserts": 7}),
            phase("conformance", counts={"passed": 4},
                  tests=[record("test_smoke"), record("test_t1", trap="t1"),
                         record("test_t2", trap="t2"), record("test_extra")]),
        ],
        traps={"t1": "avoided", "t2": "avoided"}, **kw,
    )
