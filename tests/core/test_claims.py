"""Claims: the loader's errors (file and line) and the pure resolution rules, one verdict state at a time."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from llmbench.claims import ChallengeNames, Claim, Decider, challenge_names, load_claims, resolve, strongest
from llmbench.errors import ContentError
from llmbench.schema import Metric, PhaseResult, Provenance, Result, TrapVerdict
from llmbench.schema import TestRecord as Record

REPO = Path(__file__).resolve().parents[2]
NAMES = {"alpha": ChallengeNames(frozenset({"t_one", "t_two"}), frozenset({"err"})), "beta": ChallengeNames()}
MODELS = ["m-a", "m-b"]

GOOD = """\
# a comment
[[claims]]
id = "one"
source = "analysis/x.md"
line = 3
model = "m-a"
challenge = "alpha"
kind = "trap_fallen"
claim = "Model A inverts the factor."
decider = { trap = "t_one", expected = "fell_in" }
contradicts = ["two"]

[[claims]]
id = "two"
source = "analysis/y.md"
line = 9
model = "m-a"
challenge = "alpha"
kind = "correctness"
claim = "Model A is correct."
decider = { conformance = "pass" }
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    return load_claims(path, MODELS, NAMES)


def test_good_file_loads_with_mutual_contradictions(tmp_path):
    claims = load(tmp_path, GOOD)
    assert [c.id for c in claims.items] == ["one", "two"]
    assert claims.by_id()["two"].contradicts == ("one",)  # recorded on one side, shown on both
    assert [(a.id, b.id) for a, b in claims.pairs()] == [("one", "two")]
    assert claims.items[1].toml_line == 13
    url = claims.items[0].source_url("https://github.com/o/r", "72fa1f8")
    assert url == "https://github.com/o/r/blob/72fa1f8/analysis/x.md#L3"


@pytest.mark.parametrize("old, new, message, line", [
    ('model = "m-a"\nchallenge = "alpha"\nkind = "correctness"', 'model = "m-zzz"\nchallenge = "alpha"\nkind = "correctness"',
     "unknown model 'm-zzz'", 17),
    ("decider = { conformance = \"pass\" }", "decider = { vibes = \"pass\" }", "decider kinds: trap", 21),
    ('decider = { trap = "t_one", expected = "fell_in" }', 'decider = { trap = "t_nine", expected = "fell_in" }',
     "unknown trap 't_nine'", 10),
    ("decider = { conformance = \"pass\" }", 'decider = { metric = "speed", op = "<", value = 1 }',
     "unknown metric 'speed'", 21),
    ('challenge = "alpha"\nkind = "correctness"', 'challenge = "gamma"\nkind = "correctness"', "unknown challenge 'gamma'", 18),
    ('kind = "correctness"', 'kind = "opinion"', "unknown kind 'opinion'", 19),
    ('contradicts = ["two"]', 'contradicts = ["three"]', "contradicts unknown claim 'three'", 11),
    ('id = "two"', 'id = "one"', "duplicate claim id 'one'", 13),
    ('line = 9', 'line = 0', "needs 'line'", 16),
    ('decider = { trap = "t_one", expected = "fell_in" }', 'decider = { trap = "t_one", expected = "maybe" }',
     'expected = "avoided" or "fell_in"', 10),
])
def test_bad_entry_names_file_and_line(tmp_path, old, new, message, line):
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    with pytest.raises(ContentError) as err:
        load(tmp_path, text)
    assert str(err.value).startswith(f"{tmp_path / 'claims.toml'}:{line}: "), str(err.value)
    assert message in str(err.value)


def test_not_checkable_kind_needs_a_none_decider(tmp_path):
    with pytest.raises(ContentError, match="not_checkable"):
        load(tmp_path, GOOD.replace('kind = "correctness"', 'kind = "not_checkable"'))


def test_syntax_error_names_the_file(tmp_path):
    with pytest.raises(ContentError, match="claims.toml: is not valid TOML"):
        load(tmp_path, GOOD + "\n[[claims]\n")


# ---- resolution -------------------------------------------------------------------------------

def _prov() -> Provenance:
    return Provenance(llmbench_version="0", harness_version="1", suite_version="1", commit="x", date="d",
                      python="3.11", numpy="2")


def _result(status="ok", traps=None, metrics=None, phases=None, reason="") -> Result:
    return Result(model="m-a", challenge="alpha", status=status, reason=reason, phases=phases or {},
                  traps={k: TrapVerdict(status=v[0], reason=v[1] if len(v) > 1 else "") for k, v in (traps or {}).items()},
                  metrics={k: Metric(value=v) for k, v in (metrics or {}).items()}, provenance=_prov(), key="k")


def _claim(**decider) -> Claim:
    kind = next(iter(decider))
    d = Decider(kind, target=decider.get("target", ""), expected=decider.get("expected", ""),
                op=decider.get("op", ""), value=decider.get("value"), tolerance=decider.get("tolerance", 0.25),
                note=decider.get("note", ""))
    return Claim("c", "analysis/x.md", 1, "m-a", "alpha", "correctness", "x", d)


def test_trap_claims_confirmed_contradicted_undecided():
    fell = _result(traps={"t_one": ("fell_in",)})
    assert resolve(_claim(trap=1, target="t_one", expected="fell_in"), fell).state == "confirmed"
    v = resolve(_claim(trap=1, target="t_one", expected="avoided"), fell)
    assert (v.state, "fell into trap t_one" in v.evidence) == ("contradicted", True)
    gpu = _result(traps={"t_one": ("not_run", "no CUDA GPU on this machine")})
    assert (resolve(_claim(trap=1, target="t_one", expected="fell_in"), gpu).state,
            resolve(_claim(trap=1, target="t_one", expected="fell_in"), gpu).why) == ("undecided", "no GPU")


@pytest.mark.parametrize("result, why", [
    (None, "not run"),
    (_result("not_runnable", reason="no adapter: entry points not found (adapter.toml no_adapter)"), "no adapter"),
    (_result("not_runnable", reason="ModuleNotFoundError: No module named 'mlx'"), "dependency missing"),
    (_result("harness_error", reason="worker lost"), "harness error"),
    (_result("ok"), "no result"),
])
def test_undecided_says_why(result, why):
    v = resolve(_claim(trap=1, target="t_one", expected="avoided"), result)
    assert (v.state, v.why) == ("undecided", why)


def test_metric_comparisons():
    r = _result(metrics={"err": 2e-10})
    assert resolve(_claim(metric=1, target="err", op="<", value=1e-4), r).state == "confirmed"
    assert resolve(_claim(metric=1, target="err", op=">=", value=1e-4), r).state == "contradicted"
    assert resolve(_claim(metric=1, target="err", op="order", value=1.25e-10), r).state == "confirmed"
    assert resolve(_claim(metric=1, target="err", op="order", value=1.85e-16), r).state == "contradicted"
    assert resolve(_claim(metric=1, target="err", op="~", value=2.4e-10, tolerance=0.25), r).state == "confirmed"
    assert resolve(_claim(metric=1, target="err", op="~", value=3e-10, tolerance=0.25), r).state == "contradicted"
    assert resolve(_claim(metric=1, target="speed", op="<", value=1), r).why == "no result"


def test_own_tests_pass_count_and_asserts():
    tests = [Record(name="test_x.py::test_a", outcome="passed", asserts=0),
             Record(name="test_x.py::test_b", outcome="failed", asserts=0)]
    r = _result(phases={"own_tests": PhaseResult(name="own_tests", status="failed", tests=tests)})
    assert resolve(_claim(own_tests=1, target="pass"), r).state == "contradicted"
    assert resolve(_claim(own_tests=1, target="fail"), r).state == "confirmed"
    assert resolve(_claim(own_tests=1, target="count", op="==", value=2), r).state == "confirmed"
    assert resolve(_claim(own_tests=1, target="count", op="==", value=5), r).state == "contradicted"
    assert resolve(_claim(own_tests=1, target="asserts", op="==", value=0), r).state == "confirmed"
    scripts = _result(phases={"own_tests": PhaseResult(name="own_tests", status="ok",
                                                       tests=[Record(name="demo.py", outcome="passed")])})
    v = resolve(_claim(own_tests=1, target="count", op="==", value=10), scripts)
    assert (v.state, v.why) == ("undecided", "not countable")  # subtests inside a script are invisible


def test_compile_and_conformance():
    failed = PhaseResult(name="compile", status="failed", reason="error: identifier topp_prob is undefined")
    r = _result("failed", phases={"compile": failed})
    assert resolve(_claim(compile=1, expected="failed"), r).state == "confirmed"
    assert "topp_prob" in resolve(_claim(compile=1, expected="ok"), r).evidence
    gpu = _result(phases={"conformance": PhaseResult(name="conformance", status="not_run", reason="no GPU")})
    assert resolve(_claim(conformance=1, expected="pass"), gpu).why == "no GPU"
    good = _result(traps={"t_one": ("avoided",)}, phases={"conformance": PhaseResult(
        name="conformance", status="ok", tests=[Record(name="t", outcome="passed")])})
    assert resolve(_claim(conformance=1, expected="pass"), good).state == "confirmed"
    trapped = _result(traps={"t_one": ("fell_in",)}, phases={"conformance": PhaseResult(
        name="conformance", status="ok", tests=[Record(name="t", outcome="passed")])})
    assert resolve(_claim(conformance=1, expected="pass"), trapped).state == "contradicted"


def test_not_checkable_is_kept_as_such():
    v = resolve(_claim(none=1, note="documentation quality"), _result())
    assert (v.state, v.evidence) == ("not_checkable", "documentation quality")


def test_strongest_puts_behaviour_before_figures(tmp_path):
    claims = load(tmp_path, GOOD.replace('kind = "trap_fallen"', 'kind = "figure"'))
    verdicts = {c.id: resolve(c, _result(traps={"t_one": ("avoided",)}, phases={"conformance": PhaseResult(
        name="conformance", status="failed", tests=[Record(name="t", outcome="failed")])})) for c in claims.items}
    assert [c.id for c in strongest(claims, verdicts)] == ["two", "one"]


def test_the_repository_claims_file_is_valid():
    """data/claims.toml names only real models, challenges, traps and metrics."""
    from llmbench.challenge import load_challenges
    from llmbench.study import load_study

    study = load_study(REPO / "data" / "study.toml")
    specs = load_challenges(REPO / "challenges")
    claims = load_claims(REPO / "data" / "claims.toml", [m.id for m in study.models], challenge_names(specs))
    assert len(claims.items) >= 100
    assert sum(1 for c in claims.items if c.decider.kind != "none") >= 100
    assert claims.pairs()
    for c in claims.items:
        assert len(c.claim.split()) >= 4, c.id  # a paraphrase, not a keyword


def test_own_tests_timeout_is_undecided_not_a_failure():
    slow = _result(phases={"own_tests": PhaseResult(name="own_tests", status="timeout", reason="exceeded 150 s",
                                                    tests=[Record(name="flash.py", outcome="timeout")])})
    v = resolve(_claim(own_tests=1, target="pass"), slow)
    assert (v.state, v.why) == ("undecided", "timed out")


def test_asserts_of_scripts_are_not_countable():
    script = _result(phases={"own_tests": PhaseResult(name="own_tests", status="ok", counts={"asserts": 1},
                                                      tests=[Record(name="layer_norm.py", outcome="passed", asserts=1)])})
    v = resolve(_claim(own_tests=1, target="asserts", op="==", value=0), script)
    assert (v.state, v.why) == ("undecided", "not countable")


def test_unknown_gap_statuses_decide_nothing():
    r = _result(phases={"conformance": PhaseResult(name="conformance", status="ok")})
    r.phases["conformance"].status = "needs_adapter"  # a newer status word than this schema knows
    v = resolve(_claim(conformance=1, expected="pass"), r)
    assert (v.state, v.why) == ("undecided", "no adapter")
