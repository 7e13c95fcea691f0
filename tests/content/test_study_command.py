"""`llmbench study` (behind `make study`): the published study brought in at build time, from
its pinned URL or a local copy; without network and without a copy it stops at once."""
from __future__ import annotations

import shutil
import tarfile
import time
from pathlib import Path

import pytest

from llmbench.cli import main

from test_importer import build_external_repo

PINNED = '\n'.join(['[study]', 'title = "A synthetic study"', 'source = "https://example.invalid/study"',
                    'commit = "abc1234"', 'judge = "nobody"'])


def pinned(project):
    toml = project.root / "data" / "study.toml"
    toml.write_text(toml.read_text().replace('[study]\ntitle = "A synthetic study"\nsource = "nowhere"',
                                             PINNED.rsplit('\njudge', 1)[0]))
    assert 'commit = "abc1234"' in toml.read_text()


def test_without_network_or_copy_it_stops_at_once_and_says_how(project, monkeypatch, capsys):
    pinned(project)
    monkeypatch.setenv("LLMBENCH_ROOT", str(project.root))
    monkeypatch.setenv("LLMBENCH_OFFLINE", "1")  # never contacts anything
    monkeypatch.delenv("STUDY", raising=False)
    start = time.monotonic()
    assert main(["study"]) == 2
    assert time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert "no network" in err and "make study STUDY=" in err and ".tar.gz" in err
    assert "https://example.invalid/study/archive/abc1234.tar.gz" in err
    assert not list(project.solutions_dir.iterdir())


def test_study_from_a_tarball_imports_and_leaves_nothing_behind(project, tmp_path, monkeypatch, capsys):
    src = build_external_repo(tmp_path)
    archive = tmp_path / "study-abc1234.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="study-abc1234")
    monkeypatch.setenv("LLMBENCH_ROOT", str(project.root))
    before = set(Path("/tmp").glob("llmbench-study-*"))
    assert main(["study", "--source", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "never stored in the repository" in out and "solutions imported: 4" in out
    assert (project.solutions_dir / "alpha" / "attn" / "flash.py").read_bytes() == (src / "alpha/attn/flash.py").read_bytes()
    assert not (project.solutions_dir / "alpha" / "attn" / "etc_dir").exists()  # a link out of the tree
    assert set(Path("/tmp").glob("llmbench-study-*")) == before
    assert main(["study", "--source", str(archive)]) == 0  # again: existing solutions are kept
    assert "kept" in capsys.readouterr().out


def test_study_from_a_folder_named_by_the_STUDY_variable(project, tmp_path, monkeypatch, capsys):
    src = build_external_repo(tmp_path)
    monkeypatch.setenv("LLMBENCH_ROOT", str(project.root))
    monkeypatch.setenv("STUDY", str(src))
    assert main(["study"]) == 0
    assert (project.solutions_dir / "beta.2" / "train" / "train.py").exists()
    monkeypatch.setenv("STUDY", str(tmp_path / "nope"))
    assert main(["study"]) == 2
    assert "no such folder or file" in capsys.readouterr().err


def _real_copy() -> Path | None:
    repo = Path(__file__).resolve().parents[2]
    for folder in (repo.parent / "shared" / "study", repo.parent.parent / "shared" / "study"):
        found = sorted(folder.glob("llm_programming_tests-*.tar.gz")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


@pytest.mark.skipif(_real_copy() is None, reason="the published study's copy (../shared/study/) is not on this machine")
def test_the_real_study_archive_imports_every_graded_model(tmp_path, monkeypatch, capsys):
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "repo"
    shutil.copytree(repo / "challenges", root / "challenges")
    shutil.copytree(repo / "data", root / "data")
    (root / "solutions").mkdir()
    (root / "adapters").mkdir()
    monkeypatch.setenv("LLMBENCH_ROOT", str(root))
    assert main(["study", "--source", str(_real_copy())]) == 0
    models = {p.name for p in (root / "solutions").iterdir() if p.is_dir()}
    assert models == {"glm5", "glm5.1", "kimi-k2.6", "minimax-m2.7", "opus47_1m", "qwen36"}
    assert (root / "solutions" / "qwen36" / "dflash_verify" / "PROMPT.md").is_file()
