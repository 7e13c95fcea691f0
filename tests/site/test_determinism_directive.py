"""Challenge pages: the determinism probes' findings (`<!-- live: determinism challenge=... -->`)."""
from __future__ import annotations

import shutil

from synthetic import result

from llmbench.schema import PhaseResult
from llmbench.schema import TestRecord as Record
from llmbench.site.context import Context
from llmbench.site.data import load_site_data
from llmbench.site.directives import render
from llmbench.site.links import SiteLinks
from llmbench.site.markers import Directive, parse_args
from llmbench.store import ResultStore


def determinism_of(root) -> str:
    name, args = parse_args("determinism challenge=alpha", "analysis/x.md", 1)
    return render(Directive(name, args, 1, False), Context(load_site_data(root), SiteLinks("analysis/x.md"),
                                                           html=False, path="analysis/x.md"))


def probed(model: str, nondeterministic: list[int]):
    tests = [Record(name=f"test_{i}", outcome="passed",
                    scale={"determinism_probes": 1.0, "nondeterministic": float(n)})
             for i, n in enumerate(nondeterministic)]
    return result(model, "alpha", "ok", conformance=PhaseResult(name="conformance", status="ok", tests=tests))


def test_determinism_findings_on_the_challenge_page(synthetic_root, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root)
    assert "no entry point of this challenge is declared deterministic" in determinism_of(root)
    toml = root / "challenges" / "alpha" / "challenge.toml"
    toml.write_text(toml.read_text().replace('signature = "attend(Q, K, V) -> O"',
                                             'signature = "attend(Q, K, V) -> O"\ndeterministic = true', 1))
    assert "no probed run yet" in determinism_of(root)  # the synthetic results carry no probes
    store = ResultStore(root / "results")
    store.write(probed("synthetic-a", [0, 0]))
    out = determinism_of(root)
    assert "`attend` called twice with the same inputs" in out and "1 of 1 probed runs answered identically" in out
    assert "| Run |" not in out
    store.write(probed("synthetic-b", [0, 2]))
    out = determinism_of(root)
    assert "1 of 2 probed runs answered identically" in out
    assert "`test_1`" in out and "2 entry point(s) answered the same inputs differently" in out
    assert "test_0" not in out
