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
