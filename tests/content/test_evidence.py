"""Grade parsing and the grade-versus-evidence rules, on hand-built results."""
from __future__ import annotations

import pytest

from content_helpers import clean_result, make_result, phase, record
from llmbench import evidence
from llmbench.evidence import evidence_ranking, flags, grade_points


def rules(grade, result):
    return [f.rule for f in flags(grade, result)]


@pytest.mark.parametrize("grade,points", [
    ("A+", 4.3), ("A", 4.0), ("A-", 3.7), ("B+", 3.3), ("B", 3.0), ("B-", 2.7), ("C+", 2.3),
    ("C", 2.0), ("D-", 0.7), ("F", 0.0), (" b+ ".upper(), 3.3), ("A-/B+", 3.5), ("B/B-", 2.85),
])
def test_grade_points(grade, points):
    assert grade_points(grade) == pytest.approx(points)


@pytest.mark.parametrize("text", [None, "", "E", "A++", "F+", "pass", "A-/", "7"])
def test_not_a_grade(text):
    assert grade_points(text) is None
    assert not evidence.is_grade(text)


def test_grade_order_and_average():
    grades = ["B", "A-", None, "C+", "A", "B+", "junk"]
    assert sorted(grades, key=evidence.grade_sort_key)[:5] == ["A", "A-", "B+", "B", "C+"]
    assert evidence.average_grade(["A", "B"]) == "A-"  # 3.5 lies between A- and B+: ties round up
    assert evidence.average_grade(["A", "A", "B+"]) == "A-"
    assert evidence.average_grade([None, "x"]) is None
    assert evidence.grade_from_points(0.1) == "F"


def test_clean_result_high_grade_has_no_flags():
    assert flags("A", clean_result()) == []


def test_no_grade_or_no_result_or_control_gives_nothing():
    bad = make_result(status="not_runnable", reason="ImportError")
    assert flags(None, bad) == []
    assert flags("A", None) == []
    assert flags("A", make_result(status="not_runnable", run_kind="reference")) == []
    # Issue 11: a harness error elsewhere never silently drops what a phase that ran shows.
    assert [f.rule for f in flags("A", make_result(status="harness_error", phases=[phase("compile", "failed")]))] \
        == ["high_grade_no_compile"]


def test_high_grade_compile_failure():
    r = make_result(status="not_runnable", phases=[phase("compile", "failed", reason="missing <cfloat>")])
    found = flags("A-", r)
    assert [f.rule for f in found] == ["high_grade_no_compile"]
    assert "missing <cfloat>" in found[0].explanation and "A-" in found[0].explanation
    assert flags("B", r) == []  # B is not a high grade


def test_high_grade_not_runnable_without_compile_phase():
    r = make_result(status="not_runnable", reason="ModuleNotFoundError: torch")
    assert rules("B+", r) == ["high_grade_not_runnable"]


def test_own_tests_fail_hang_and_assert_nothing():
    failing = make_result(status="failed", phases=[phase("own_tests", "failed", counts={"passed": 2, "failed": 1})])
    found = flags("A", failing)
    assert [f.rule for f in found] == ["high_grade_own_tests_fail"]
    assert "1 test failed" in found[0].explanation
    hanging = make_result(status="failed", phases=[phase("own_tests", "timeout", reason="300 s")])
    assert rules("A", hanging) == ["high_grade_own_tests_hang"]
    empty = make_result(phases=[phase("own_tests", counts={"passed": 5, "asserts": 0})])
    assert rules("A", empty) == ["high_grade_tests_assert_nothing"]
    # Counted per test when the phase has no total.
    per_test = make_result(phases=[phase("own_tests", tests=[record("t", asserts=0), record("u", asserts=0)])])
    assert rules("A", per_test) == ["high_grade_tests_assert_nothing"]
    asserting = make_result(phases=[phase("own_tests", tests=[record("t", asserts=0), record("u", asserts=2)])])
    assert rules("A", asserting) == []
    uncounted = make_result(phases=[phase("own_tests", counts={"passed": 5})])
    assert rules("A", uncounted) == []  # nobody counted: no evidence either way


def test_trap_and_conformance_failures():
    r = make_result(status="failed", phases=[phase("conformance", "failed", tests=[
        record("test_logits_index", "failed", trap="logits_index"),
        record("test_golden_rule", "failed"),
        record("test_mask", "passed", trap="sibling_mask"),
    ])], traps={"logits_index": "fell_in", "sibling_mask": "avoided", "bonus": "not_run"})
    found = {f.rule: f for f in flags("B+", r)}
    assert set(found) == {"high_grade_trap", "high_grade_conformance_fails"}
    assert "logits_index" in found["high_grade_trap"].explanation
    assert "sibling_mask" not in found["high_grade_trap"].explanation
    assert "test_golden_rule" in found["high_grade_conformance_fails"].explanation
    assert flags("B", r) == []


def test_several_flags_at_once():
    r = make_result(status="not_runnable", phases=[phase("compile", "failed"), phase("own_tests", "failed")],
                    traps={"a": "fell_in"})
    assert rules("A", r) == ["high_grade_no_compile", "high_grade_own_tests_fail", "high_grade_trap"]


def test_low_grade_while_everything_passes():
    assert rules("C", clean_result()) == ["low_grade_all_pass"]
    assert rules("C+", clean_result()) == ["low_grade_all_pass"]
    assert rules("B-", clean_result()) == []  # not low enough
    # Any blemish removes the contradiction.
    fell = clean_result()
    fell.traps["t2"].status = "fell_in"
    assert rules("C", fell) == []
    no_traps_ran = make_result(phases=[phase("conformance", counts={"passed": 2})], traps={"t1": "not_run"})
    assert rules("C", no_traps_ran) == []
    no_asserts = clean_result()
    no_asserts.phases["own_tests"].counts["asserts"] = 0
    assert rules("C", no_asserts) == []
    failing_test = clean_result()
    failing_test.phases["conformance"].tests.append(record("test_more", "failed"))
    assert rules("C", failing_test) == []


def test_rules_table_covers_every_rule_produced():
    r = make_result(status="not_runnable", phases=[phase("compile", "failed"), phase("own_tests", "timeout"),
                    phase("conformance", "failed", tests=[record("x", "failed")])], traps={"a": "fell_in"})
    produced = {f.rule for f in flags("A", r)} | {f.rule for f in flags("C", clean_result())}
    assert produced <= set(evidence.RULES)
    assert all(label for label, _ in evidence.RULES.values())


def test_all_flags_pairs_grades_with_results():
    grades = {("m", "c"): "A", ("m", "d"): "A", ("n", "c"): "C"}
    results = {("m", "c"): make_result("m", "c", status="failed", traps={"t": "fell_in"}),
               ("n", "c"): clean_result("n", "c")}
    out = evidence.all_flags(grades, results)
    assert set(out) == {("m", "c"), ("n", "c")}
    assert out[("n", "c")][0].rule == "low_grade_all_pass"


def test_study_grades_from_toml_dict():
    study = {"grades": {"kv": {"glm5": "A-", "qwen36": "A"}, "fuse": {"glm5": "B"}}}
    assert evidence.study_grades(study) == {("glm5", "kv"): "A-", ("qwen36", "kv"): "A", ("glm5", "fuse"): "B"}


def conf(passed, failed=0):
    return phase("conformance", "ok" if not failed else "failed", counts={"passed": passed, "failed": failed})


def test_evidence_ranking_orders_by_traps_then_pass_rate():
    results = [
        # a: 3 of 4 traps, pass rates 1.0 and 0.5
        make_result("a", "x", phases=[conf(4)], traps={"p": "avoided", "q": "avoided"}),
        make_result("a", "y", status="failed", phases=[conf(2, 2)], traps={"p": "avoided", "q": "fell_in"}),
        # b: 3 of 4 traps too, but pass rate 1.0: ranks above a
        make_result("b", "x", phases=[conf(4)], traps={"p": "avoided", "q": "avoided"}),
        make_result("b", "y", status="failed", phases=[conf(9, 0)], traps={"p": "avoided", "q": "fell_in",
                                                                            "r": "not_run"}),
        # c: could not run: its traps count as unverified, pass rate 0
        make_result("c", "x", status="not_runnable", traps={"p": "not_run", "q": "not_run"}),
        # d: only a harness error: nothing counted
        make_result("d", "x", status="harness_error", traps={"p": "not_run"}),
        make_result("a", "x", run_kind="reference", phases=[conf(1, 1)], traps={"p": "fell_in"}),
    ]
    rows = evidence_ranking(results, {"a": "Model A", "b": "Model B", "c": "Model C", "d": "Model D", "e": "E"})
    assert [r.model for r in rows] == ["b", "a", "c", "d", "e"]
    b, a, c, d, e = rows
    assert (b.rank, a.rank, c.rank, d.rank, e.rank) == (1, 2, 3, None, None)
    assert (a.traps_avoided, a.traps_fell_in, a.trap_score) == (3, 1, 0.75)
    assert a.conformance_pass_rate == 0.75 and b.conformance_pass_rate == 1.0
    assert b.traps_not_expressible == 1 and b.trap_score == 0.75
    assert (c.traps_unverified, c.trap_score, c.conformance_pass_rate) == (2, 0.0, 0.0)
    assert (d.solutions, d.harness_errors, d.trap_score) == (0, 1, None)
    assert a.name == "Model A" and e.solutions == 0


def test_evidence_ranking_ties_share_a_rank_and_accepts_mapping():
    results = {("a", "x"): clean_result("a", "x"), ("b", "x"): clean_result("b", "x"),
               ("c", "x"): make_result("c", "x", phases=[conf(1, 1)], traps={"t1": "fell_in"})}

    class M:  # like solution.Model
        def __init__(self, name):
            self.name = name

    rows = evidence_ranking(results, {"a": M("A"), "b": M("B")})
    assert [(r.model, r.rank) for r in rows] == [("a", 1), ("b", 1), ("c", 3)]
    assert rows[2].name == "c"  # a result's model missing from models still gets a row


def test_high_grade_whose_conformance_run_times_out_is_flagged():
    """Issue 13: a conformance run that timed out as a whole left no records, so no flag."""
    r = make_result(status="timeout", phases=[phase("conformance", "timeout", reason="conformance timed out after 600 s")],
                    traps={"t1": "not_run"})
    found = flags("A", r)
    assert [f.rule for f in found] == ["high_grade_conformance_hangs"]
    assert "timed out after 600 s" in found[0].explanation
    assert rules("C", r) == []
    assert "high_grade_conformance_hangs" in evidence.RULES
