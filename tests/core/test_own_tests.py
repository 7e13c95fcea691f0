"""The solution's own tests, in every discovery style, run sandboxed."""
import pytest

from llmbench.phases.own_tests import run_own_tests
from llmbench.sandbox import Sandbox
from tests.conftest import write


@pytest.fixture(params=["auto", "fallback"])
def sandbox(request):
    return Sandbox(request.param)


def test_pytest_files_and_modules_with_test_functions(tmp_path, sandbox):
    write(tmp_path / "impl.py", "def add(a, b):\n    return a + b\n")
    write(tmp_path / "test_impl.py", "from impl import add\ndef test_ok():\n    assert add(1, 2) == 3\n"
                                     "def test_bad():\n    assert add(1, 2) == 4\n")
    write(tmp_path / "checks.py", "from impl import add\ndef test_silent():\n    add(1, 1)\n")
    phase = run_own_tests(tmp_path, sandbox, timeout_s=60)
    by_name = {t.name: t for t in phase.tests}
    assert by_name["test_impl.py::test_ok"].outcome == "passed" and by_name["test_impl.py::test_ok"].asserts == 1
    assert by_name["test_impl.py::test_bad"].outcome == "failed" and "assert 3 == 4" in by_name["test_impl.py::test_bad"].message
    assert by_name["checks.py::test_silent"].outcome == "passed" and by_name["checks.py::test_silent"].asserts == 0
    assert phase.status == "failed" and phase.counts["passed"] == 2 and phase.counts["asserts"] == 2


def test_scripts_with_main_blocks_each_count_as_one_test(tmp_path, sandbox):
    write(tmp_path / "good.py", "if __name__ == '__main__':\n    assert 1 + 1 == 2\n    print('ok')\n")
    write(tmp_path / "bad.py", "import sys\nif __name__ == '__main__':\n    sys.exit(3)\n")
    phase = run_own_tests(tmp_path, sandbox, timeout_s=60)
    outcomes = {t.name: t.outcome for t in phase.tests}
    assert outcomes == {"bad.py": "failed", "good.py": "passed"}
    assert "exit status 3" in next(t.message for t in phase.tests if t.name == "bad.py")


def test_hanging_script_times_out(tmp_path):
    write(tmp_path / "hang.py", "import time\nif __name__ == '__main__':\n    time.sleep(600)\n")
    phase = run_own_tests(tmp_path, Sandbox("auto"), timeout_s=3)
    assert phase.tests[0].outcome == "timeout" and "timeout after" in phase.tests[0].message
    assert phase.status == "timeout", phase.reason  # a hang reads "timed out", not "failed" (issue 11)


def test_missing_dependency_is_our_gap_not_failed(tmp_path, sandbox):
    write(tmp_path / "model.py", "import torch\n\ndef f():\n    return torch.zeros(1)\n")
    write(tmp_path / "test_model.py", "from model import f\n\ndef test_f():\n    assert f() is not None\n")
    phase = run_own_tests(tmp_path, sandbox, timeout_s=60)
    assert phase.status == "missing_dependency"
    assert "torch" in phase.reason and phase.details["missing_dependencies"] == ["torch"]


def test_no_tests_is_not_run(tmp_path):
    write(tmp_path / "lib.py", "X = 1\n")
    phase = run_own_tests(tmp_path, Sandbox("auto"), timeout_s=10)
    assert phase.status == "not_run" and phase.reason == "no own tests found"


def test_xfailed_tests_are_not_counted_as_passed(tmp_path):
    """Issue 13: an xfail-marked test that fails (as expected) was counted as passed."""
    write(tmp_path / "test_x.py", "import pytest\n\n@pytest.mark.xfail(reason='known bug')\ndef test_known():\n"
                                  "    assert 1 == 2\n\ndef test_ok():\n    assert True\n")
    phase = run_own_tests(tmp_path, Sandbox("auto"), timeout_s=60)
    by_name = {t.name: t for t in phase.tests}
    assert by_name["test_x.py::test_known"].outcome == "skipped"
    assert by_name["test_x.py::test_known"].message.startswith("expected to fail (xfail)")
    assert phase.counts["passed"] == 1 and phase.counts["skipped"] == 1


def test_source_analysis_child_never_imports_from_the_working_folder(tmp_path, monkeypatch):
    """Issue 13: the trusted analysis child ran `python -m` in the caller's folder, so a
    solution's json.py there ran (as root) when llmbench was started from that folder."""
    from llmbench.phases.own_tests import analyse

    mark = tmp_path / "ran"
    sol = tmp_path / "sol"
    write(sol / "json.py", f"open({str(mark)!r}, 'w').write('ran')\nraise SystemExit(3)\n")
    write(sol / "test_x.py", "def test_a():\n    assert 1\n")
    monkeypatch.chdir(sol)
    targets, *_ = analyse(sol)
    assert not mark.exists() and [t.name for t in targets] == ["test_x.py"]


def test_own_tests_get_only_the_plugins_we_read_their_results_with(tmp_path):
    """Installed pytest plugins are not autoloaded into a model's own tests (they cost ~0.45 s a
    run); the JSON report and the per-test timeout still work."""
    write(tmp_path / "test_env.py", "import os, sys, time\n\n"
                                    "def test_no_autoload():\n"
                                    "    assert os.environ.get('PYTEST_DISABLE_PLUGIN_AUTOLOAD') == '1'\n"
                                    "    assert 'anyio' not in sys.modules\n\n"
                                    "def test_hangs():\n    time.sleep(600)\n")
    phase = run_own_tests(tmp_path, Sandbox("auto"), timeout_s=20)
    by_name = {t.name: t.outcome for t in phase.tests}
    assert by_name == {"test_env.py::test_no_autoload": "passed", "test_env.py::test_hangs": "timeout"}
