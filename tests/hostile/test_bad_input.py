"""Bad input: contributor mistakes fail with one clear message (exit 2) naming the file
and what to do; problems a solution brings (odd bytes, huge files, nothing at all) or
damaged result files never fail a run."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from llmbench.cli import main
from llmbench.store import ResultStore
from tests.conftest import add_solution, write
from tests.hostile.conftest import MODES, mode_or_skip

GOOD = {"demo.py": "def add(a, b):\n    return a + b\n"}


@pytest.fixture
def project(demo_project, monkeypatch):
    # Speed only: the hypothesis plugin slows every trusted pytest start (see conftest.py).
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    return demo_project


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """A temp dir of this test only: a contributor mistake must leave nothing in it (no
    sandbox copy, no conformance folder), and no sandbox process may still run."""
    import tempfile

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    assert sorted(p.name for p in tmp.iterdir()) == [], "left behind by a failed run"


def run(*args: str) -> int:
    return main(["run", "--no-controls", "--jobs", "1", *args])


def assert_one_clear_error(capsys, where: str, *fragments: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert where in errors[0] and all(f in errors[0] for f in fragments), errors[0]


# -------------------------------------------------------------------- contributor content
CHALLENGE_TOML_MISTAKES = {
    "syntax": (lambda t: t.replace('title = "Demo"', 'title = "Demo'), ["is not valid TOML", "fix the syntax"]),
    "not utf-8": (lambda t: t.replace("Adds numbers.", "Adds numbers \udcff."), ["is not valid TOML"]),
    "missing key": (lambda t: t.replace('title = "Demo"\n', ""), ["missing required key 'title'", "add it"]),
    "wrong type": (lambda t: t.replace('title = "Demo"', "title = 3"), ["'title' must be a str"]),
    "unknown kind": (lambda t: t.replace('kind = "python"', 'kind = "rust"'), ["unknown kind 'rust'", "valid kinds"]),
    "id mismatch": (lambda t: t.replace('id = "demo"', 'id = "dmeo"'), ["id 'dmeo' must equal the folder name"]),
    "unknown limit": (lambda t: t.replace("[limits]\n", "[limits]\ngpu_hours = 3\n"), ["unknown limit 'gpu_hours'"]),
    "bad limit": (lambda t: t.replace("call_timeout_s = 10", "call_timeout_s = -1"), ["must be a positive"]),
    "nan limit": (lambda t: t.replace("call_timeout_s = 10", "call_timeout_s = nan"), ["'call_timeout_s' = nan", "finite"]),
    "inf limit": (lambda t: t.replace("[limits]\n", "[limits]\nmemory_mb = inf\n"), ["'memory_mb' = inf", "finite"]),
    "bool limit": (lambda t: t.replace("[limits]\n", "[limits]\nmemory_mb = true\n"), ["'memory_mb' = True"]),
    "deep nesting": (lambda t: t + "deep = " + "[" * 5000 + "]" * 5000 + "\n", ["nests arrays or tables too deeply"]),
    "option-like entry": (lambda t: t.replace('name = "add"', 'name = "--help"'), ["entry point name '--help'"]),
    "duplicate trap": (lambda t: t + '[[traps]]\nid = "wrong_sign"\ntitle = "again"\n', ["duplicate trap id 'wrong_sign'"]),
    "bad trap id": (lambda t: t.replace('id = "wrong_sign"', 'id = "Wrong-Sign"'), ["trap id 'Wrong-Sign' must match"]),
    "duplicate metric": (lambda t: t + '[[metrics]]\nname = "abs_error"\n', ["duplicate metric 'abs_error'"]),
    "traps not tables": (lambda t: "traps = 3\n" + t.replace("[[traps]]\n", ""), ["'traps' must be an array"]),
}


@pytest.mark.parametrize("mistake", CHALLENGE_TOML_MISTAKES)
def test_challenge_toml_mistakes(project, own_tmp, capsys, mistake):
    add_solution(project, "m", GOOD)
    path = project.challenges_dir / "demo" / "challenge.toml"
    change, fragments = CHALLENGE_TOML_MISTAKES[mistake]
    path.write_bytes(change(path.read_text()).encode("utf-8", "surrogateescape"))
    assert run() == 2
    assert_one_clear_error(capsys, "challenges/demo/challenge.toml", *fragments)
    assert not project.results_dir.exists()


def test_duplicate_entry_point_names(project, capsys):
    path = project.challenges_dir / "demo" / "challenge.toml"
    path.write_text(path.read_text() + '[[entry_points]]\nname = "add"\n')
    assert run() == 2


MODEL_TOML_MISTAKES = {"syntax": ("name = 'x", "is not valid TOML"), "wrong type": ("name = 3", "'name' must be a string"),
                       "deep nesting": ("x = " + "[" * 5000 + "]" * 5000, "nests arrays or tables too deeply")}


@pytest.mark.parametrize("mistake", MODEL_TOML_MISTAKES)
def test_model_toml_mistakes(project, own_tmp, capsys, mistake):
    add_solution(project, "m", GOOD)
    text, fragment = MODEL_TOML_MISTAKES[mistake]
    write(project.solutions_dir / "m" / "model.toml", text)
    assert run() == 2
    assert_one_clear_error(capsys, "solutions/m/model.toml", fragment)


ADAPTER_TOML_MISTAKES = {
    "syntax": ("[entry_points\n", "is not valid TOML"),
    "mapping not a table": ("entry_points = 3\n", "[entry_points] must map canonical names"),
    "target without module": ('[entry_points]\nadd = "plus"\n', "write it as 'module.attribute'"),
    "dependencies": ('dependencies = "numpy"\n', "'dependencies' must be a list"),
    "option-like target": ('[entry_points]\nadd = "--solution=/etc.x"\n', "write it as 'module.attribute'"),
    "option-like name": ('[entry_points]\n"--help" = "demo.add"\n', "key '--help' must be the canonical"),
    "inf limit": ("[limits]\nmemory_mb = inf\n", "'memory_mb' = inf"),
    "nan limit": ("[limits]\ncall_timeout_s = nan\n", "'call_timeout_s' = nan"),
    "bool limit": ("[limits]\nmemory_mb = true\n", "'memory_mb' = True"),
    "deep nesting": ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "nests arrays or tables too deeply"),
}


@pytest.mark.parametrize("mistake", ADAPTER_TOML_MISTAKES)
def test_adapter_toml_mistakes(project, own_tmp, capsys, mistake):
    add_solution(project, "m", GOOD)
    text, fragment = ADAPTER_TOML_MISTAKES[mistake]
    write(project.adapters_dir / "m" / "demo" / "adapter.toml", text)
    assert run() == 2
    assert_one_clear_error(capsys, "adapters/m/demo/adapter.toml", fragment)


def test_model_toml_that_is_a_folder(project, own_tmp, capsys):
    add_solution(project, "m", GOOD)
    (project.solutions_dir / "m" / "model.toml").mkdir()
    assert run() == 2
    assert_one_clear_error(capsys, "solutions/m/model.toml", "is a folder", "must be a TOML file")


@pytest.mark.parametrize("what", ["model folder", "solution folder", "adapter folder", "model.toml", "adapter.toml",
                                  "challenge folder", "challenge.toml"])
def test_symlinked_content_is_skipped_with_a_warning(project, capsys, tmp_path, what):
    """Issue 13: a symlinked solutions/<m>/<c> outside the repository was run and published;
    model.toml -> /dev/zero made `llmbench status` hang."""
    outside = tmp_path / "outside"
    add_solution(project, "m", GOOD)
    write(outside / "demo" / "demo.py", GOOD["demo.py"])
    write(outside / "demo" / "PRIVATE.md", "private notes\n")
    link = {
        "model folder": project.solutions_dir / "linked",
        "solution folder": project.solutions_dir / "m2" / "demo",
        "adapter folder": project.adapters_dir / "m" / "demo",
        "model.toml": project.solutions_dir / "m" / "model.toml",
        "adapter.toml": project.adapters_dir / "m" / "demo" / "adapter.toml",
        "challenge folder": project.challenges_dir / "linked",
        "challenge.toml": project.challenges_dir / "demo" / "challenge.toml",
    }[what]
    target = {"model folder": outside, "solution folder": outside / "demo", "adapter folder": outside / "demo",
              "challenge folder": project.challenges_dir / "demo"}.get(what, "/dev/zero")
    link.parent.mkdir(parents=True, exist_ok=True)
    if what == "challenge.toml":
        link.unlink()
    link.symlink_to(target)
    proc = subprocess.run([sys.executable, "-m", "llmbench.cli", "status"], cwd=project.root, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "LLMBENCH_ROOT": str(project.root)})
    assert "Traceback" not in proc.stderr, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.startswith("warning: ") and str(link) in line]
    assert len(warned) == 1 and "symbolic link; skipped" in warned[0], proc.stderr
    if what == "challenge.toml":
        return  # the only challenge is skipped: nothing to run
    assert run() == 0
    results = sorted(p.relative_to(project.results_dir).as_posix() for p in project.results_dir.rglob("*.json"))
    assert results == ["m/demo.json"], results
    assert "private" not in (project.results_dir / "m" / "demo.json").read_text()


def test_invalid_model_folder_name(project, capsys):
    add_solution(project, "Model A", GOOD)
    assert run() == 2
    assert_one_clear_error(capsys, "solutions/Model A", "invalid model id 'Model A'")


def test_unknown_trap_marked_in_the_suite_fails_before_running(project, capsys):
    add_solution(project, "m", GOOD)
    suite = project.challenges_dir / "demo" / "conformance" / "test_demo.py"
    suite.write_text(suite.read_text().replace('trap("wrong_sign")', 'trap("wrong_sing")'))
    assert run() == 2
    assert_one_clear_error(capsys, "conformance/test_demo.py:12", "marks unknown trap 'wrong_sing'",
                           "traps in challenge.toml: wrong_sign")
    assert not project.results_dir.exists()


def test_unknown_trap_hidden_from_the_static_check_still_fails(project, capsys):
    """A mark the AST check cannot see is caught when pytest collects: never a silent "ok"."""
    add_solution(project, "m", GOOD)
    suite = project.challenges_dir / "demo" / "conformance" / "test_demo.py"
    suite.write_text(suite.read_text().replace('@pytest.mark.trap("wrong_sign")', 'TRAP = pytest.mark.trap\n@TRAP("nope")'))
    assert run() == 2
    assert_one_clear_error(capsys, "conformance/test_demo.py", "marks unknown trap 'nope'")
    assert not (project.results_dir / "m").exists()


def test_mutant_for_an_unknown_trap(project, capsys):
    mutants = project.challenges_dir / "demo" / "mutants"
    (mutants / "wrong_sign.patch").rename(mutants / "wrong_sing.patch")
    assert main(["run", "--jobs", "1"]) == 2
    assert_one_clear_error(capsys, "mutants/wrong_sing.patch", "mutant for unknown trap 'wrong_sing'")


# -------------------------------------------------------------------- solution-produced problems
def only_result(project, model: str = "m"):
    result = ResultStore(project.results_dir).read(project.results_dir / model / "demo.json")
    assert result is not None and result.status != "harness_error", result and result.reason
    return result


def test_non_utf8_and_binary_files_in_a_solution(project, capsys):
    folder = add_solution(project, "m", GOOD)
    (folder / "notes_latin1.py").write_bytes(b"# caf\xe9 au lait\nX = 1\n")
    (folder / "test_latin1.py").write_bytes(b"# \xff\xfe\ndef test_x():\n    assert True\n")
    (folder / "nul.py").write_bytes(b"def f():\x00\n")
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (folder / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"name is not UTF-8\n")
    assert run() == 0
    r = only_result(project)
    files = {f.path: f for f in r.files}
    assert files["weights.bin"].binary and files["nul.py"].binary and files["notes_latin1.py"].binary
    assert "caf\\xe9.txt" in files  # undecodable names are escaped, not fatal
    assert r.traps["wrong_sign"].status == "avoided"
    text = (project.results_dir / "m" / "demo.json").read_bytes()
    text.decode("utf-8")  # the result file itself is valid UTF-8


def test_solution_raising_undecodable_text(project):
    add_solution(project, "m", {"demo.py": "def add(a, b):\n    raise ValueError('bad \\udcff \\ud800 text')\n"})
    assert run() == 0
    r = only_result(project)
    assert r.status == "failed" and "bad ? ? text" in r.reason


@pytest.mark.parametrize("mode", MODES)
def test_harness_never_reads_through_links_to_devices_or_fifos(project, tmp_path, mode):
    """`zero.py -> /dev/zero` once made the trusted harness read until the machine ran out of
    memory. Run in a subprocess with a memory cap and a timeout, so a regression fails
    this test instead of taking the machine down. In the fallback, the link into the
    0700 tmp_path once killed the worker at start (PermissionError for the dropped uid)."""
    mode_or_skip(mode)
    folder = add_solution(project, "m", GOOD)
    os.mkfifo(tmp_path / "fifo")
    (folder / "zero.py").symlink_to("/dev/zero")
    (folder / "test_zero.py").symlink_to("/dev/zero")
    (folder / "pipe.py").symlink_to(tmp_path / "fifo")
    cap = "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
    code = cap + f"from llmbench.cli import main; sys.exit(main(['run', '--no-controls', '--jobs', '1', '--isolation', '{mode}']))"
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LLMBENCH_ROOT": str(project.root)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = only_result(project)
    assert r.status == "ok", r.reason
    assert {f.path: f.bytes for f in r.files if f.path.endswith(".py")} == {
        "demo.py": 32, "pipe.py": 0, "test_zero.py": 0, "zero.py": 0}


@pytest.mark.slow
def test_huge_files_in_a_solution(project):
    folder = add_solution(project, "m", GOOD)
    with open(folder / "checkpoint.bin", "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: cheap to make, 200 MB to read
    write(folder / "zz_table.py", "TABLE = [\n" + "    0,\n" * 800_000 + "]\n")  # 5 MB of Python
    assert run() == 0
    r = only_result(project)
    files = {f.path: f for f in r.files}
    assert files["checkpoint.bin"].bytes == 200 * 1024 * 1024 and files["checkpoint.bin"].binary
    assert files["zz_table.py"].lines == 800_002 and r.status == "ok"
    assert (project.results_dir / "m" / "demo.json").stat().st_size < 100_000


def test_empty_solution_folders_are_not_attempts(project, capsys):
    (project.solutions_dir / "m-empty" / "demo").mkdir(parents=True)
    write(project.solutions_dir / "m-prompt" / "demo" / "PROMPT.md", "# the task\n")
    (project.solutions_dir / "m-subdir" / "demo" / "empty").mkdir(parents=True)
    add_solution(project, "m", GOOD)
    assert run() == 0
    assert "1 runs planned: 1 to run, 0 cached" in capsys.readouterr().out
    assert sorted(p.parent.name for p in project.results_dir.glob("*/demo.json")) == ["m"]


DAMAGED_RESULTS = {
    "truncated": b'{"schema_version": 1, "model": "m", "chall',
    "empty": b"",
    "binary": bytes(range(256)),
    "not utf-8": b'{"model": "caf\xe9"}',
    "wrong schema": b'{"x": 1}',
    "a list": b"[1, 2, 3]",
}


@pytest.mark.parametrize("damage", DAMAGED_RESULTS)
def test_damaged_result_files_are_rerun_with_a_warning(project, capsys, damage):
    add_solution(project, "m", GOOD)
    path = project.results_dir / "m" / "demo.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(DAMAGED_RESULTS[damage])
    (path.parent / ".demo.json.x1y2.tmp").write_text('{"half": ')  # an interrupted write: ignored
    with pytest.warns(UserWarning) as warned:  # the CLI prints it as "warning: ..." on stderr
        assert run() == 0
    [message] = [str(w.message) for w in warned if "unreadable result" in str(w.message)]
    assert message.startswith(f"{path}: unreadable result (")
    assert message.endswith("); treated as missing and will be re-run")
    assert "1 runs planned: 1 to run, 0 cached" in capsys.readouterr().out
    assert json.loads(path.read_text())["status"] == "ok"
    assert run() == 0  # and now it is a cache hit
    assert "1 runs planned: 0 to run, 1 cached" in capsys.readouterr().out


@pytest.mark.parametrize("hide", ["not on PATH", "LLMBENCH_NO_BWRAP"])
def test_isolation_bwrap_without_bubblewrap_is_one_clear_error(project, capsys, monkeypatch, hide):
    from llmbench.sandbox import bwrap_problem

    add_solution(project, "m", GOOD)
    if hide == "not on PATH":
        monkeypatch.setenv("PATH", str(project.root / "no-bin"))
    else:
        monkeypatch.setenv("LLMBENCH_NO_BWRAP", "1")
    bwrap_problem.cache_clear()
    try:
        assert run("--isolation", "bwrap") == 2
    finally:
        monkeypatch.undo()
        bwrap_problem.cache_clear()
    assert_one_clear_error(capsys, "--isolation bwrap", "install bubblewrap", "--isolation auto or fallback")
    assert not (project.results_dir / "m").exists()
