"""Challenge pages: 'cheats caught n/n' and the flake rate of repeated runs."""
from __future__ import annotations

import shutil

from synthetic import result

from llmbench.site.data import load_site_data
from llmbench.site.context import Context
from llmbench.site.directives import render
from llmbench.site.links import SiteLinks
from llmbench.site.markers import Directive, parse_args
from llmbench.schema import PhaseResult
from llmbench.schema import TestRecord as Record
from llmbench.store import ResultStore


def controls_of(root) -> str:
    name, args = parse_args("controls challenge=alpha", "analysis/x.md", 1)
    return render(Directive(name, args, 1, False), Context(load_site_data(root), SiteLinks("analysis/x.md"),
                                                           html=True, path="analysis/x.md"))


def cheat(name: str, status: str, test_outcome: str):
    conf = PhaseResult(name="conformance", status=status, tests=[Record(name="test_small", outcome=test_outcome)])
    r = result("_reference", "alpha", "failed" if status == "failed" else "ok", run_kind="cheat", conformance=conf)
    r.cheat = name
    return r


def test_cheats_caught_and_flake_rate_on_the_challenge_page(synthetic_root, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root)
    toml = root / "challenges" / "alpha" / "challenge.toml"
    toml.write_text(toml.read_text() + '\n[cheats]\ngeneric = ["zeros", "constant", "echo", "replay"]\n')
    store = ResultStore(root / "results")
    store.write(cheat("zeros", "failed", "failed"))
    store.write(cheat("constant", "failed", "failed"))
    store.write(cheat("echo", "ok", "passed"))  # passed the whole suite: a suite bug
    out = controls_of(root)
    assert "cheats caught 2/3 (1 not run here)" in out
    assert "caught: fails test\\_small" in out and "NOT caught: passed every test (a suite bug)" in out
    assert "every number the solution returns is 0" in out
    assert "Flake rate" not in out  # nothing was run with --repeat
    ref = store.read(store.path_for("_reference", "alpha", "reference"))
    ref.repeat_verdicts = ["ok; t_one=avoided", "failed; t_one=fell_in"]
    store.write(ref)
    out = controls_of(root)
    assert "Flake rate: 1 of 1 results changed verdict when run again" in out
