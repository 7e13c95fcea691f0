"""Progress when stdout is not a terminal: plain lines, runs in progress named, full names in the summary."""
import io
import time

from llmbench.cli import main, plain_table
from llmbench.progress import PlainProgress, clock
from tests.conftest import add_solution

LONG = "a-model-with-a-rather-long-name-0123456789"


def test_plain_lines_count_done_elapsed_and_left():
    now = [100.0]
    out = io.StringIO()
    p = PlainProgress(4, out=out, interval_s=3600, now=lambda: now[0])
    p.started("m/a")
    now[0] += 5
    p.started("m/b")
    now[0] += 5
    assert p.running() == "m/a (10 s), m/b (5 s)"
    p.finished("m/a", "ok m/a")
    assert out.getvalue() == "[1/4 done, 0:10 elapsed, ~0:30 left] ok m/a\n"
    assert p.running() == "m/b (5 s)"
    assert clock(3725) == "1:02:05"


def test_runs_in_progress_are_reported_while_they_run():
    out = io.StringIO()
    with PlainProgress(2, out=out, interval_s=0.05) as p:
        p.started("slow/one")
        time.sleep(0.4)
        p.finished("slow/one", "ok slow/one")
    lines = out.getvalue().splitlines()
    assert any(line.startswith("[0/2 done, 0:00 elapsed] running: slow/one (") for line in lines)
    assert lines[-1].startswith("[1/2 done") and lines[-1].endswith("ok slow/one")


def test_plain_table_is_as_wide_as_its_widest_cell():
    text = plain_table(("run", "status"), [(f"{LONG}/flash_attention_bwd", "ok"), ("b/c", "failed")])
    lines = text.splitlines()
    assert lines[0] == "Summary" and f"{LONG}/flash_attention_bwd  ok" in lines[3]
    assert lines[2] == "-" * len(f"{LONG}/flash_attention_bwd") + "  " + "-" * len("failed")


def test_run_output_off_a_terminal(demo_project, capsys, monkeypatch):
    monkeypatch.setenv("LLMBENCH_PROGRESS_INTERVAL", "0.5")
    add_solution(demo_project, LONG, {
        "demo.py": "def add(a, b):\n    return a + b\n",
        "test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(4)\n    assert True\n"})
    assert main(["run", "--jobs", "1", "--no-controls"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # no terminal control sequences in a log
    assert f"] running: {LONG}/demo (" in out  # the slow own test is not silent
    assert f"[1/1 done, " in out and f"] ok {LONG}/demo  traps avoided 1, fell in 0" in out
    summary = out[out.index("Summary\n"):].splitlines()
    assert summary[1].split() == ["run", "status", "own", "tests", "conformance", "traps", "avoided", "time"]
    assert summary[3].startswith(f"{LONG}/demo  ok  ") and "…" not in out
