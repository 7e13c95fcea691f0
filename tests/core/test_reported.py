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
