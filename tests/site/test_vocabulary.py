"""One status vocabulary: words, glyphs, colours and whose doing; our gaps never red, never flagged."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import result  # noqa: E402

from llmbench import evidence  # noqa: E402
from llmbench.vocabulary import KINDS, TERMS, result_term, status_term, strip_machine_paths  # noqa: E402


def test_every_term_has_one_kind_and_each_kind_one_distinct_glyph():
    assert len({k.glyph for k in KINDS.values()}) == len(KINDS)
    assert len({t.word for t in TERMS.values()}) == len(TERMS)  # one word, one meaning
    for t in TERMS.values():
        assert t.kind in KINDS and t.meaning
        if t.kind == "bad":
            assert t.fault is True, t  # red only for what the solution did
        if t.kind == "gap":
            assert t.fault is False, t


def test_gaps_of_the_harness_or_machine_are_grey():
    for status, reason in [("not_runnable", "missing dependency mlx"),
                           ("not_runnable", "entry point make_kv_cache not found; map it in adapters/m/kv/"),
                           ("failed", "no CUDA device"), ("harness_error", "worker lost")]:
        assert status_term(status, reason).gap, (status, reason)
    assert status_term("not_runnable", "SyntaxError: invalid syntax (kv.py, line 3)").kind == "bad"
    assert status_term("failed", "2 conformance tests failed").kind == "bad"


def test_a_gap_raises_no_flag_and_is_left_out_of_the_ranking():
    gap = result("m", "alpha", "not_runnable", reason="missing dependency mlx", traps={"t": ("not_run", "")})
    own = result("m", "alpha", "not_runnable", reason="SyntaxError in kv.py", traps={"t": ("not_run", "")})
    assert evidence.flags("A", gap) == []
    assert [f.rule for f in evidence.flags("A", own)] == ["high_grade_not_runnable"]
    row, = evidence.evidence_ranking([gap], ["m"])
    assert (row.solutions, row.harness_errors, row.trap_score, row.rank) == (0, 1, None, None)
    row, = evidence.evidence_ranking([own], ["m"])
    assert (row.solutions, row.traps_unverified, row.trap_score) == (1, 1, 0.0)
    assert result_term(gap).word == "needs a dependency"


def test_machine_paths_are_stripped():
    text = ('File "/work/wt/site16/.venv/lib/python3.11/site-packages/numpy/core.py", line 3; '
            "/tmp/llmbench-x1/sol/kv.py failed; see /home/ci/repo/solutions/m/c/x.py")
    out = strip_machine_paths(text, ("/home/ci/repo",))
    assert "/work/" not in out and "/tmp/" not in out and "/home/" not in out
    assert "…/core.py" in out and "…/kv.py" in out and "solutions/m/c/x.py" in out
    assert strip_machine_paths("ratio 3/4 and https://example.org/a/b") == "ratio 3/4 and https://example.org/a/b"
