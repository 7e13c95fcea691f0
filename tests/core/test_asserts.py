from pathlib import Path

from llmbench.asserts import count_asserts, parse, find_test_functions
from llmbench.phases.own_tests import discover


def test_counts_assert_statements_and_assertion_calls(tmp_path):
    f = tmp_path / "test_x.py"
    f.write_text(
        "import numpy as np, pytest\n"
        "def test_a():\n    assert 1\n    np.testing.assert_allclose(1, 1)\n    with pytest.raises(ValueError):\n        int('x')\n"
        "def test_nothing():\n    print('hi')\n"
        "class TestK:\n    def test_m(self):\n        self.assertEqual(1, 1)\n        assert True\n"
    )
    tests = find_test_functions(parse(f))
    assert {k: count_asserts(v) for k, v in tests.items()} == {"test_a": 3, "test_nothing": 0, "TestK::test_m": 2}


def test_discovers_the_three_styles(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_one.py").write_text("def test_x():\n    assert 1\n")
    (tmp_path / "a" / "checks.py").write_text("def test_y():\n    assert 2\n")
    (tmp_path / "a" / "impl.py").write_text("def f():\n    return 1\nif __name__ == '__main__':\n    assert f() == 1\n")
    targets, scripts, asserts = discover(tmp_path / "a")
    assert [t.name for t in targets] == ["checks.py", "test_one.py"] and scripts == []
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "impl.py").write_text("def f():\n    return 1\nif __name__ == '__main__':\n    assert f() == 1\n")
    (tmp_path / "b" / "lib.py").write_text("def g():\n    return 2\n")
    targets, scripts, asserts = discover(tmp_path / "b")
    assert targets == [] and [s.name for s in scripts] == ["impl.py"] and asserts == {"impl.py": 1}


def test_asserts_in_unreachable_code_are_not_counted(tmp_path):
    """Issue 13: asserts after a return, in `if False:` or after pytest.skip inflated the count."""
    f = tmp_path / "test_y.py"
    f.write_text(
        "import pytest, sys\n"
        "def test_after_return():\n    return\n    assert 1 == 1\n"
        "def test_dead_branch():\n    if False:\n        assert 0\n    while 0:\n        assert 0\n"
        "    if not True:\n        assert 0\n    else:\n        assert 1\n"
        "def test_after_skip():\n    pytest.skip('later')\n    assert 2\n"
        "def test_after_raise():\n    try:\n        raise ValueError\n        assert 3\n    except ValueError:\n"
        "        assert True\n    for x in []:\n        continue\n        assert x\n"
        "def test_nested_reachable():\n    with pytest.raises(KeyError):\n        {}['k']\n    if sys.argv:\n"
        "        assert sys.argv\n"
    )
    tests = find_test_functions(parse(f))
    assert {k: count_asserts(v) for k, v in tests.items()} == {
        "test_after_return": 0, "test_dead_branch": 1, "test_after_skip": 0, "test_after_raise": 1,
        "test_nested_reachable": 2}
