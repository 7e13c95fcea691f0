"""Cheat controls: the generic wrappers, and `llmbench validate` requiring every cheat to fail."""
from __future__ import annotations

import numpy as np
import pytest

from llmbench import cheats
from llmbench.challenge import load_challenge
from llmbench.cli import main
from llmbench.errors import ContentError
from tests.conftest import make_patch, write


class Cache:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(np.asarray(x, dtype=float))
        return np.concatenate(self.items)


def make_cache():
    return Cache()


def attention(q, k):
    return q * 2.0 + k, {"scale": 3.0, "tokens": [4, 5, 6]}


def fresh_state():
    cheats._CHEATS.clear()  # one cheat state per worker process; each test is a new "process"


def test_zeros_and_constant_keep_structure_shapes_and_dtypes():
    fresh_state()
    q = np.arange(6.0).reshape(2, 3)
    out, extra = cheats.wrap("zeros", "attention", attention)(q, q)
    assert out.shape == (2, 3) and out.dtype == q.dtype and not out.any()
    assert extra == {"scale": 0.0, "tokens": [0, 0, 0]}
    out, extra = cheats.wrap("constant", "attention", attention)(q, q)
    assert (out == 1).all() and extra == {"scale": 1.0, "tokens": [1, 1, 1]}


def test_echo_returns_an_input_of_the_same_shape_or_shuffled_right_values():
    fresh_state()
    q = np.arange(6.0).reshape(2, 3)
    k = np.ones((2, 3))
    out, extra = cheats.wrap("echo", "attention", attention)(q, k)
    assert np.array_equal(out, q)  # right shape, an input's values
    assert sorted(extra["tokens"]) == [4, 5, 6] and extra["tokens"] != [4, 5, 6]
    assert extra["scale"] != 3.0


def test_replay_answers_a_repeated_signature_from_memory_methods_included():
    fresh_state()
    f = cheats.wrap("replay", "attention", attention)
    first = f(np.zeros(3), np.zeros(3))
    again = f(np.ones(3), np.ones(3))  # same shapes: the first answer comes back
    assert again is first
    other = f(np.ones(4), np.ones(4))
    assert np.array_equal(other[0], 3 * np.ones(4))
    cache = cheats.wrap("replay", "make_cache", make_cache)()
    assert cache.push([1.0]).tolist() == [1.0]
    assert cache.push([2.0]).tolist() == [1.0]  # the cache skipped the work
    assert cache.items[0].tolist() == [1.0]  # attributes read through to the real object


def test_objects_returned_are_wrapped_and_unwrapped_when_passed_back():
    fresh_state()
    cache = cheats.wrap("zeros", "make_cache", make_cache)()
    assert cache.push([5.0, 6.0]).tolist() == [0.0, 0.0]
    seen = cheats.wrap("zeros", "count", lambda c: len(c.items))(cache)
    assert seen == 0 and isinstance(cache._obj, Cache)  # the real object reached the reference


def test_generated_adapter_imports_each_entry_from_its_reference_module(tmp_path):
    write(tmp_path / "ref" / "kernel.py", "def attention(q, k):\n    return q\n")
    write(tmp_path / "ref" / "test_kernel.py", "def attention(q, k):\n    return 0\n")
    modules = cheats.entry_modules(tmp_path / "ref", ["attention", "other"])
    assert modules == {"attention": "kernel"}
    src = cheats.generic_adapter_source("zeros", modules)
    assert "wrap('zeros', 'attention', getattr(importlib.import_module('kernel'), 'attention'))" in src


def test_unknown_generic_cheat_is_a_content_error(demo_project):
    toml = demo_project.challenges_dir / "demo" / "challenge.toml"
    toml.write_text(toml.read_text() + '\n[cheats]\ngeneric = ["zeros", "sleep"]\n')
    with pytest.raises(ContentError, match="generic must list names from"):
        load_challenge(toml.parent)


@pytest.mark.timeout(600)
def test_validate_counts_cheats_and_fails_when_one_passes(demo_project, capsys):
    c = demo_project.challenges_dir / "demo"
    toml = c / "challenge.toml"
    toml.write_text(toml.read_text() + '\n[cheats]\ngeneric = ["zeros", "constant", "echo", "replay"]\n')
    assert load_challenge(c).cheat_names == ["zeros", "constant", "echo", "replay"]
    assert main(["validate", "demo"]) == 0
    out = capsys.readouterr().out
    assert "demo: reference ok, traps caught 1/1, cheats caught 4/4" in out, out
    # A "cheat" the suite cannot tell from the reference (here: the reference itself, renamed)
    # is a suite bug: validate names it and exits 1.
    ref = c / "reference" / "demo.py"
    (c / "cheats").mkdir()
    make_patch(ref, ref.read_text() + "\n# shortcut\n", c / "cheats" / "harmless.patch")
    assert main(["validate", "demo"]) == 1
    out = capsys.readouterr().out
    assert "cheats caught 4/5 (cheats PASSED the suite: harmless)" in out, out


def test_scale_sanity_flags_tiny_references_and_input_independent_expectations():
    from llmbench.conformance import scale

    scale.begin_test()
    scale.note_inputs([b"x1"], ("f", [], {}))
    scale.note_comparison(np.full(4, 1e-7), atol=1e-8)  # 10 x the tolerance: zeros would pass
    tiny = scale.end_test()
    assert scale.problems("t", tiny) == ["t: max |expected| is only 10 x its tolerance (needs 100 x)"]
    scale.begin_test()
    for blob in (b"a", b"b", b"c"):
        scale.note_inputs([blob], ("f", [], {}))
        scale.note_comparison(np.ones(3), rtol=1e-6)  # three inputs, one expected output
    same = scale.end_test()
    assert scale.problems("t", same) == ["t: the expected output is the same for all 3 inputs"]
    scale.begin_test()
    scale.note_inputs([b"a"], ("f", [], {}))
    scale.note_comparison(np.zeros(3))  # an all-zero reference: zeros pass it
    assert "0 x its tolerance" in scale.problems("t", scale.end_test())[0]
    scale.begin_test()
    for v in (1.0, 2.0):
        scale.note_inputs([str(v).encode()], ("f", [], {}))
        scale.note_comparison(np.full(3, v), atol=1e-9)
    assert scale.problems("t", scale.end_test()) == []



def _ratio(expected, **tol):
    from llmbench.conformance import scale

    scale.begin_test()
    scale.note_comparison(expected, **tol)
    return scale.end_test().get("max_scale_ratio", float("inf"))


def test_scale_sanity_binds_for_relative_tolerances():
    """rtol-only and floored relative comparisons are judged like absolute ones: an all-zero
    reference, a loose relative bound or a floor above the reference's magnitude is flagged."""
    from llmbench.conformance import scale

    assert _ratio(np.zeros(5), rtol=1e-6) == 0.0  # zeros pass an rtol-only allclose of zeros
    assert _ratio(np.linspace(-3, 3, 7), rtol=0.05) == pytest.approx(20.0)  # 20 x: too loose
    assert _ratio(np.linspace(-3, 3, 7), rtol=1e-6) == pytest.approx(1e6)
    assert _ratio(np.full(3, 2.0), atol=1e-3, rtol=1e-3) == pytest.approx(2.0 / (1e-3 + 2e-3))
    # |got - want| / max(1, max |want|) < 1e-4 with want ~ 1e-6 is an absolute bound of 1e-4.
    assert _ratio(np.full(3, 1e-6), rtol=1e-4, floor=1.0) == pytest.approx(1e-2)
    assert _ratio(np.full(3, 5.0), rtol=1e-4, floor=1.0) == pytest.approx(1e4)
    assert _ratio(np.ones(3)) == float("inf")  # an unstated relative bound: judged only on all zeros
    scale.begin_test()
    scale.note_comparison(np.full(3, 1e-6), rtol=1e-4, floor=1.0)
    assert scale.problems("t", scale.end_test()) == ["t: max |expected| is only 0.01 x its tolerance (needs 100 x)"]


def test_a_sane_scale_means_zeros_fail_the_comparison():
    """Whatever the mix of atol, rtol and floor, a ratio above 1 means an all-zeros answer fails
    the comparison the ratio describes, and numpy's allclose for floor 0 (rtol-only included)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        want = rng.standard_normal(int(rng.integers(1, 9))) * 10.0 ** rng.uniform(-8, 4)
        want[rng.random(want.size) < 0.3] = 0.0
        atol = float(rng.choice([0.0, 10.0 ** rng.uniform(-10, 1)]))
        rtol = float(rng.choice([0.0, 10.0 ** rng.uniform(-8, 0)]))
        floor = float(rng.choice([0.0, 1.0]))
        ratio = _ratio(want, atol=atol, rtol=rtol, floor=floor)
        bound = atol + rtol * max(float(np.abs(want).max()), floor)
        zeros_pass = bool(np.all(np.abs(want) <= bound))
        if ratio > 1:
            assert not zeros_pass, (want, atol, rtol, floor, ratio)
            if floor == 0.0:
                assert not np.allclose(np.zeros_like(want), want, rtol=rtol, atol=atol)
        else:
            assert zeros_pass, (want, atol, rtol, floor, ratio)
    with pytest.raises(AssertionError):  # the rtol-only case, concretely
        np.testing.assert_allclose(np.zeros(4), np.array([1e-9, -2e-9, 0.0, 3e-9]), rtol=1e-6)
    assert _ratio(np.array([1e-9, -2e-9, 0.0, 3e-9]), rtol=1e-6) >= 100

CRASH = """
import os
import numpy as np

np.add = np.subtract  # corrupt this process's NumPy
np.seterr(all="ignore")
for where in (os.environ.get("TMPDIR", "/tmp"), "."):
    try:
        with open(os.path.join(where, "llmbench_crash_was_here"), "w") as fh:
            fh.write("state left behind for the next run")
    except OSError:
        pass


def add(a, b):
    os._exit(70)
"""


@pytest.mark.timeout(600)
def test_a_crashing_control_does_not_change_the_next_runs_outcome(demo_project):
    """Fault isolation: a control that corrupts its process and dies runs first, in the same
    harness process; the reference run after it gives exactly the outcome it gives alone."""
    from llmbench.runner import make_plan, run_plan, verdict_signature

    c = demo_project.challenges_dir / "demo"
    ref = c / "reference" / "demo.py"
    (c / "cheats").mkdir()
    make_patch(ref, CRASH, c / "cheats" / "crash.patch")

    def outcomes(r):
        return verdict_signature(r), [(t.name, t.outcome) for t in r.phases["conformance"].tests]

    plan = make_plan(demo_project, solutions=False, force=True)
    alone = [j for j in plan.jobs if j.run_kind == "reference"]
    plan.jobs = alone
    before = outcomes(run_plan(plan, demo_project, jobs=1)[0])
    plan = make_plan(demo_project, solutions=False, force=True)
    plan.jobs = [j for j in plan.jobs if j.run_kind == "cheat"] + [j for j in plan.jobs if j.run_kind == "reference"]
    results = {r.run_kind: r for r in run_plan(plan, demo_project, jobs=1)}
    crashed, after = results["cheat"], results["reference"]
    assert crashed.cheat == "crash" and crashed.status == "failed"
    assert crashed.phases["conformance"].tests[0].outcome == "failed"
    assert outcomes(after) == before and after.status == "ok"
