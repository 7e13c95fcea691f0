"""Figures a solution reports about itself are read (never executed) and kept apart."""
from llmbench.challenge import load_challenge
from llmbench.cli import main
from llmbench.reported import extract_reported
from llmbench.store import ResultStore
from tests.conftest import add_solution, write


def with_aliases(project):
    toml = project.challenges_dir / "demo" / "challenge.toml"
    toml.write_text(toml.read_text() + '\n[reported]\nabs_error = ["err", "max error"]\nspeed = ["tokens_per_s"]\n')
    return load_challenge(project.challenges_dir / "demo")


def test_json_and_markdown_claims_are_read(demo_project, tmp_path):
    challenge = with_aliases(demo_project)
    folder = tmp_path / "sol"
    write(folder / "results.json", '{"run": {"err": 1.5e-7, "note": "x"}, "tokens_per_s": true}')
    write(folder / "FINAL.md", "Max error: 3e-5\nThroughput (tokens_per_s): 1,234.5\n")
    write(folder / "link.md", "placeholder")
    (folder / "evil.md").symlink_to("/dev/zero")
    out = extract_reported(folder, challenge)
    assert out["abs_error"].value == 1.5e-7 and out["abs_error"].source == "results.json"
    assert out["speed"].value == 1234.5 and out["speed"].source == "FINAL.md"  # JSON booleans are no figures


def test_reported_next_to_reproduced_in_the_result(demo_project):
    with_aliases(demo_project)
    add_solution(demo_project, "model-a", {"demo.py": "def add(a, b):\n    return a + b\n",
                                            "NOTES.md": "Our max error is 0.25 (measured).\n"})
    assert main(["run", "--no-controls"]) == 0
    res = ResultStore(demo_project.results_dir).solutions()[("model-a", "demo")]
    assert res.reported["abs_error"].value == 0.25 and res.reported["abs_error"].source == "NOTES.md"
    assert res.metrics["abs_error"].value == 0.0  # what the suite reproduced


def test_column_headers_and_labels_choose_the_final_figure(demo_project, tmp_path):
    # A notes table with before/after columns: the "before" value is never the claim; a log's
    # pre-training line loses to its last evaluation; a threshold is no figure; every
    # disagreeing candidate is kept with its file and line.
    challenge = with_aliases(demo_project)
    folder = tmp_path / "sol"
    write(folder / "NOTES.md", "## Results\n\n| Metric | Pre-training | Post-training |\n|---|---|---|\n"
                               "| err | 995,563 | 232 |\n\nThe err stayed under 100 sadly.\n")
    write(folder / "run_log.txt", "MEASUREMENT (pre-training)\n  note\n  err: 1455957.31\n"
                                  "step 10 val err=40.5\nstep 20 val err=31.25\n")
    out = extract_reported(folder, challenge)
    rep = out["abs_error"]
    assert (rep.value, rep.source, rep.line) == (232.0, "NOTES.md", 5)
    assert "Post-training" in rep.context
    found = {(c.value, c.source, c.line) for c in rep.candidates}
    assert {(232.0, "NOTES.md", 5), (995563.0, "NOTES.md", 5), (1455957.31, "run_log.txt", 3),
            (31.25, "run_log.txt", 5), (40.5, "run_log.txt", 4)} == found  # no 100: a threshold
    assert rep.candidates[-1].value in (995563.0, 1455957.31)  # pre-training figures rank last


def test_a_prompt_is_never_a_claim(demo_project, tmp_path):
    challenge = with_aliases(demo_project)
    folder = tmp_path / "sol"
    write(folder / "PROMPT.md", "Report the max error: 0.001 is a good target.\n")
    write(folder / "rerun_prompt.md", "err: 7\n")
    assert extract_reported(folder, challenge) == {}
    write(folder / "FINAL.md", "Final err: 0.5\n")
    rep = extract_reported(folder, challenge)["abs_error"]
    assert (rep.value, rep.source, rep.candidates) == (0.5, "FINAL.md", [])
