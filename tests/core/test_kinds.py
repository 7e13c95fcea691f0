"""Kinds and phases are plugins: a new kind is added by registering it, without editing the
runner, the worker, provenance or the plugin (issue 14)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llmbench.errors import ContentError
from llmbench.keys import HARNESS, ISOLATION, SOLUTION
from llmbench.kinds import Kind, kind_for, kind_names, register_kind, unregister_kind
from llmbench.phases.base import Phase, PhaseOutcome, RunContext
from llmbench.runner import make_plan, run_plan
from llmbench.sandbox import Limits, make_copy, remove_copy
from llmbench.schema import PhaseResult, TrapVerdict
from llmbench.store import ResultStore
from tests.conftest import add_solution, write

SRC = Path(__file__).resolve().parents[2] / "src"


class SyntaxPhase(Phase):
    """Toy phase: byte-compiles the solution's .py files in the sandbox; a file that does not
    compile is the trap "syntax_error"."""

    name = "syntax"
    inputs = (HARNESS, SOLUTION, ISOLATION)
    limits = ("own_tests_timeout_s",)
    decides_traps = True

    def run(self, ctx: RunContext) -> PhaseOutcome:
        files = sorted(p.name for p in ctx.source.glob("*.py"))
        copy = make_copy(ctx.source)
        try:
            bad = []
            for name in files:
                out = ctx.sandbox.run([sys.executable, "-m", "py_compile", name], workdir=copy,
                                      limits=Limits(wall_s=ctx.limits["own_tests_timeout_s"]), python=True)
                if not out.ok:
                    bad.append(name)
        finally:
            remove_copy(copy)
        verdict = TrapVerdict(status="fell_in" if bad else "avoided", reason=", ".join(bad))
        result = PhaseResult(name=self.name, status="failed" if bad else "ok",
                             reason=f"does not compile: {', '.join(bad)}" if bad else "",
                             counts={"passed": len(files) - len(bad), "failed": len(bad)})
        return PhaseOutcome(result, traps={"syntax_error": verdict})


class LintKind(Kind):
    name = "lint"
    phases = (SyntaxPhase(),)

    def check_options(self, options, challenge_dir):
        if set(options) - {"strict"}:
            return "[lint] takes one key, strict"
        return None


TOY_TOML = """
id = "toy"
title = "Toy"
kind = "lint"
[lint]
strict = true
[[entry_points]]
name = "f"
[[traps]]
id = "syntax_error"
title = "Does not compile"
"""


@pytest.fixture
def lint_kind():
    register_kind(LintKind)
    yield kind_for("lint")
    unregister_kind("lint")


@pytest.fixture
def toy_project(demo_project, lint_kind):
    c = demo_project.challenges_dir / "toy"
    write(c / "challenge.toml", TOY_TOML)
    write(c / "PROMPT.md", "# Toy\nWrite f.\n")
    return demo_project


def test_a_registered_kind_runs_through_the_unchanged_runner(toy_project):
    add_solution(toy_project, "m-good", {"f.py": "def f():\n    return 1\n"}, challenge="toy")
    add_solution(toy_project, "m-bad", {"f.py": "def f(:\n    return 1\n"}, challenge="toy")
    plan = make_plan(toy_project, challenges=["toy"], controls=False)
    assert sorted(j.label for j in plan.to_run) == ["m-bad/toy", "m-good/toy"]
    assert all(j.phase_names == ["syntax"] for j in plan.jobs)
    results = {r.model: r for r in run_plan(plan, toy_project, jobs=1)}
    good, bad = results["m-good"], results["m-bad"]
    assert good.status == "ok" and good.phases["syntax"].counts == {"passed": 1, "failed": 0}
    assert good.traps["syntax_error"].status == "avoided"
    assert bad.status == "failed" and bad.traps["syntax_error"].status == "fell_in"
    job = next(j for j in plan.jobs if j.model == "m-bad")
    assert bad.phases["syntax"].key == job.phase_keys["syntax"] and len(job.phase_keys) == 1
    # The phase's key covers exactly its declared inputs: a second plan re-runs nothing.
    assert make_plan(toy_project, challenges=["toy"], controls=False).to_run == []
    stored = ResultStore(toy_project.results_dir).solutions()
    assert stored[("m-bad", "toy")].traps["syntax_error"].status == "fell_in"


def test_a_kind_checks_its_own_table_in_challenge_toml(toy_project):
    path = toy_project.challenges_dir / "toy" / "challenge.toml"
    path.write_text(TOY_TOML.replace("strict = true", "loose = 1"))
    with pytest.raises(ContentError, match=r"\[lint\] takes one key"):
        make_plan(toy_project, challenges=["toy"], controls=False)


def test_unknown_kind_lists_the_registered_ones(toy_project):
    path = toy_project.challenges_dir / "toy" / "challenge.toml"
    path.write_text(TOY_TOML.replace('kind = "lint"', 'kind = "rust"'))
    with pytest.raises(ContentError, match="valid kinds: python, training, cuda, lint"):
        make_plan(toy_project, challenges=["toy"], controls=False)


def test_registry_refuses_a_second_class_for_a_name_and_a_kind_without_phases(lint_kind):
    class Other(LintKind):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_kind(Other)

    class Empty(Kind):
        name = "empty"

    with pytest.raises(ValueError, match="at least one phase"):
        register_kind(Empty)
    assert "empty" not in kind_names()


def test_no_module_outside_the_kinds_package_names_a_kind():
    """The core asks the kind; only llmbench/kinds/ spells a kind's name."""
    offenders = []
    for path in sorted((SRC / "llmbench").rglob("*.py")):
        if "kinds" in path.relative_to(SRC / "llmbench").parts:
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(SRC)}: {word}" for word in ('"cuda"', "'cuda'", '"training"')
                      if word in text]
    assert offenders == []


def test_builtin_kinds_declare_their_phases():
    assert [p.name for p in kind_for("python").phases] == ["own_tests", "conformance"]
    cuda = kind_for("cuda")
    assert [p.name for p in cuda.phases] == ["compile", "own_tests", "conformance"]
    assert [p.name for p in cuda.phases_for("mutant")] == ["compile", "conformance"]
    assert not cuda.caps_worker_memory and cuda.native_loader.startswith("llmbench.kinds.cuda.")


def test_worker_loads_compiled_entry_points_only_through_an_llmbench_loader(tmp_path):
    from llmbench.worker import EntryNotFound, SolutionLoader, native_loader

    with pytest.raises(SystemExit, match="llmbench module"):
        native_loader("os:system")
    assert native_loader("llmbench.kinds.cuda.native:load_entry_points").__name__ == "load_entry_points"
    seen = []

    def loader(solution, adapter, support, options):
        seen.append((solution, adapter, support, options))
        return {"kernel": lambda x: x + 1}

    (tmp_path / "sol").mkdir()
    found = SolutionLoader(tmp_path / "sol", None, {}, loader, tmp_path / "support", {"symbol": "k"})
    assert found.resolve("kernel")(1) == 2
    with pytest.raises(EntryNotFound):
        found.resolve("other")
    assert seen == [(tmp_path / "sol", None, tmp_path / "support", {"symbol": "k"})]  # built once


def test_cuda_kind_checks_its_host_abi_table(tmp_path):
    cuda = kind_for("cuda")
    (tmp_path / "host.py").write_text("def entry_points(kernel, rt):\n    return {}\n")
    assert cuda.check_options({}, tmp_path) is None  # compiled and own programs only
    assert cuda.check_options({"symbol": "f", "host": "host.py"}, tmp_path) is None
    assert "host: ../x.py" in cuda.check_options({"symbol": "f", "host": "../x.py"}, tmp_path)
    assert "symbol: missing" in cuda.check_options({"host": "host.py"}, tmp_path)
    assert "unknown key" in cuda.check_options({"symbol": "f", "host": "host.py", "abi": 1}, tmp_path)
    assert cuda.worker_fields({"symbol": "f", "host": "host.py"})["support_files"] == ("host.py",)


class _MeetingPhase(Phase):
    """Toy phase that waits (at most 20 s) to meet its partner: it only meets it when both run at once."""

    def __init__(self, name, mine, theirs, log):
        self.name, self.mine, self.theirs, self.log = name, mine, theirs, log

    def run(self, ctx):
        self.mine.set()
        met = self.theirs.wait(timeout=20 if ctx.limits.get("concurrent") else 0.2)
        self.log.append((self.name, met))
        return PhaseOutcome(PhaseResult(name=self.name, status="ok" if met else "failed"))


@pytest.mark.parametrize("concurrent", [True, False])
def test_phases_of_a_concurrent_kind_run_together_others_in_order(concurrent):
    import threading

    from llmbench.runner import run_phases

    a, b, log = threading.Event(), threading.Event(), []
    phases = [_MeetingPhase("first", a, b, log), _MeetingPhase("second", b, a, log)]
    ctx = RunContext(challenge=None, source=Path("."), adapter=None, run_kind="solution", trap=None,
                     sandbox=None, limits={"concurrent": concurrent})
    outcomes = run_phases(phases, ctx, concurrent)
    assert list(outcomes) == ["first", "second"]  # recorded in the kind's order either way
    if concurrent:
        assert sorted(log) == [("first", True), ("second", True)]
    else:  # in order: the first never meets the second, which finds the first already done
        assert log == [("first", False), ("second", True)]


def test_python_kinds_run_their_phases_together_cuda_in_order():
    assert kind_for("python").concurrent_phases and kind_for("training").concurrent_phases
    assert not kind_for("cuda").concurrent_phases


def test_concurrent_phases_never_take_more_than_the_runs_slots():
    """With one slot (``--jobs 1``, the other slots busy) a concurrent kind's phases still run one at a time."""
    import threading

    from llmbench.runner import run_phases

    a, b, log = threading.Event(), threading.Event(), []
    phases = [_MeetingPhase("first", a, b, log), _MeetingPhase("second", b, a, log)]
    ctx = RunContext(challenge=None, source=Path("."), adapter=None, run_kind="solution", trap=None,
                     sandbox=None, limits={"concurrent": False})
    outcomes = run_phases(phases, ctx, True, threading.BoundedSemaphore(1))
    assert list(outcomes) == ["first", "second"]
    assert sorted(met for _, met in log) == [False, True]  # the one that ran first never met the other
