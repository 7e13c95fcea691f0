"""new-model: prompt folders for every challenge, data files, refusals, the difficulty guide."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmbench.challenge import load_challenges
from llmbench.errors import ContentError, LlmbenchError
from llmbench.scaffold import (difficulty_guide, is_scaffold_only, new_model, new_model_report,
                               prompt_files)
from llmbench.solution import load_model

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "deploy_challenges.sh"


def rel_set(project, paths):
    return {p.relative_to(project.solutions_dir).as_posix() for p in paths}


def test_new_model_writes_prompts_data_and_model_toml(project):
    written = new_model(project, "gamma-3")
    assert rel_set(project, written) == {
        "gamma-3/model.toml",
        "gamma-3/attn/PROMPT.md", "gamma-3/norm/PROMPT.md", "gamma-3/gpu_k/PROMPT.md", "gamma-3/train/PROMPT.md",
        # listed in prompt_files, and mentioned by the prompt; never unused data or trusted files
        "gamma-3/train/corpus/vocab.json", "gamma-3/train/corpus/corpus.txt", "gamma-3/train/corpus/notes.md",
    }
    ch = project.challenges_dir
    for cid in ("attn", "norm", "gpu_k", "train"):
        assert (project.solutions_dir / "gamma-3" / cid / "PROMPT.md").read_bytes() == (ch / cid / "PROMPT.md").read_bytes()
    assert (project.solutions_dir / "gamma-3/train/corpus/corpus.txt").read_bytes() == b"some text\n" * 10
    assert not (project.solutions_dir / "gamma-3/train/reference").exists()
    model = load_model(project.solutions_dir / "gamma-3")
    assert model.name == "gamma-3" and model.provider == ""
    assert not (project.adapters_dir / "gamma-3").exists()


def test_known_study_model_gets_its_name(project):
    new_model(project, "beta.2")
    model = load_model(project.solutions_dir / "beta.2")
    assert (model.name, model.provider, model.note) == ("Beta 2", "Lab B", 'a "quoted" note')


@pytest.mark.parametrize("bad", ["Upper", "_private", "-dash", "a/b", "a b", "..", ""])
def test_invalid_model_id_refused(project, bad):
    with pytest.raises(ContentError, match="invalid model id"):
        new_model(project, bad)
    assert list(project.solutions_dir.iterdir()) == []


def test_existing_folder_refused(project):
    (project.solutions_dir / "alpha").mkdir()
    (project.solutions_dir / "alpha" / "keep.txt").write_text("x")
    with pytest.raises(LlmbenchError, match="already exists"):
        new_model(project, "alpha")
    assert [p.name for p in (project.solutions_dir / "alpha").iterdir()] == ["keep.txt"]


def test_prompt_files_rejects_bad_listing(project):
    toml = project.challenges_dir / "attn" / "challenge.toml"
    toml.write_text('prompt_files = ["reference/x.py"]\n' + toml.read_text())
    (project.challenges_dir / "attn" / "reference").mkdir()
    (project.challenges_dir / "attn" / "reference" / "x.py").write_text("secret")
    with pytest.raises(ContentError, match="prompt_files"):
        prompt_files(load_challenges(project.challenges_dir)["attn"])
    with pytest.raises(ContentError):
        new_model(project, "zeta")
    assert not (project.solutions_dir / "zeta").exists()  # validated before writing anything


def test_scaffold_only_until_the_model_writes_something(project):
    new_model(project, "gamma")
    challenges = load_challenges(project.challenges_dir)
    train = project.solutions_dir / "gamma" / "train"
    assert is_scaffold_only(train, challenges["train"])
    (train / "corpus" / "corpus.txt").write_bytes(b"edited\n")
    assert not is_scaffold_only(train, challenges["train"])  # a changed data file is the model's output
    attn = project.solutions_dir / "gamma" / "attn"
    assert is_scaffold_only(attn, challenges["attn"])
    (attn / "flash.py").write_text("def f(): pass\n")
    assert not is_scaffold_only(attn, challenges["attn"])


def test_difficulty_guide_orders_levels(project):
    guide = difficulty_guide(load_challenges(project.challenges_dir))
    lines = guide.splitlines()
    levels = [line.strip() for line in lines if line.startswith("  ") and not line.startswith("    ")]
    assert levels == ["Medium:", "Hard:", "Open-ended research:"]
    gpu = next(line for line in lines if "gpu_k" in line)
    assert "CUDA" in gpu
    assert lines.index(next(x for x in lines if "gpu_k" in x)) < lines.index(next(x for x in lines if " norm " in x))


def test_report_mentions_data_and_guide(project):
    written = new_model(project, "gamma")
    text = new_model_report(project, "gamma", written)
    assert "solutions/gamma/train/corpus/corpus.txt" in text
    assert "4 challenge folders" in text and "Challenges by difficulty" in text


def _cli_has_new_model() -> bool:
    try:
        from llmbench.cli import build_parser
    except ImportError:
        return False
    return "new-model" in build_parser().format_help()


def run_script(*args, root: Path):
    env = dict(os.environ, LLMBENCH_ROOT=str(root), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_script_usage_errors(project):
    for args in ([], ["-n"], ["-x"], ["-n", "m", "extra"]):
        proc = run_script(*args, root=project.root)
        assert proc.returncode == 2 and "usage" in proc.stderr
    assert list(project.solutions_dir.iterdir()) == []


@pytest.mark.skipif(not _cli_has_new_model(), reason="the CLI does not wire new-model yet")
def test_script_creates_model_and_refuses_twice(project):
    proc = run_script("-n", "gamma", root=project.root)
    assert proc.returncode == 0, proc.stderr
    assert "Challenges by difficulty" in proc.stdout
    assert (project.solutions_dir / "gamma" / "train" / "corpus" / "corpus.txt").exists()
    again = run_script("-n", "gamma", root=project.root)
    assert again.returncode != 0 and "already exists" in (again.stderr + again.stdout)
    bad = run_script("-n", "Bad_Id", root=project.root)
    assert bad.returncode != 0 and not (project.solutions_dir / "Bad_Id").exists()
