"""Importing a study repository laid out as <model>/<challenge>/, from a folder and via git."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from llmbench.errors import ContentError, LlmbenchError
from llmbench.importer import import_study, is_url, parse_maps
from llmbench.scaffold import new_model
from llmbench.solution import discover_models, load_model

BINARY = bytes(range(256)) + b"\x00\xff\xfe not utf-8 \x80"
SESSION = b'{"role": "user", "content": "write it"}\n{"role": "assistant", "content": "done"}\n'


def build_external_repo(base: Path) -> Path:
    """A synthetic study repository: nothing in it is real model output."""
    src = base / "study"
    files = {
        "README.md": b"# a study\n",
        "analysis/report.md": b"judging text\n",
        # alpha: a model of the study data
        "alpha/notes.txt": b"stray file\n",
        "alpha/attn/PROMPT.md": b"their prompt\n",
        "alpha/attn/flash.py": b"def flash_attention_fwd(Q, K, V, t, causal=True):\n    return Q\n",
        "alpha/attn/tests/deep/test_flash.py": b"def test_x():\n    assert 1\n",
        "alpha/attn/session.jsonl": SESSION,
        "alpha/attn/__pycache__/flash.cpython-311.pyc": b"\x00junk",
        "alpha/norm/PROMPT.md": b"their prompt only\n",
        "alpha/gpu_k/kernel.cu": b"__global__ void k() {}\n",
        "alpha/gpu_k/weights.bin": BINARY,
        "alpha/mystery_challenge/x.py": b"x = 1\n",
        # beta.2: another known model; train has the prompt's corpus copied unchanged plus code
        "beta.2/train/PROMPT.md": b"prompt\n",
        "beta.2/train/corpus/corpus.txt": b"some text\n" * 10,
        "beta.2/train/train.py": b"print('train')\n",
        "beta.2/empty/.keep": b"",
        # a folder nobody can recognise
        "stranger/attn/a.py": b"a = 1\n",
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    os.chmod(src / "alpha/attn/flash.py", 0o755)
    (src / "beta.2" / "norm").mkdir()
    (src / "beta.2" / "norm" / "PROMPT.md").write_bytes(b"p\n")
    (src / "beta.2" / "norm" / "corpus").mkdir()
    (src / "beta.2" / "norm" / "corpus" / "corpus.txt").write_bytes(b"some text\n")  # not this challenge's data
    os.symlink("flash.py", src / "alpha/attn/link.py")
    os.symlink("/etc", src / "alpha/attn/etc_dir")
    os.symlink("alpha", src / "linked_model")
    return src


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def check_imported(project, src: Path, summary):
    sol = project.solutions_dir
    assert sorted(summary.imported) == [("alpha", "attn"), ("alpha", "gpu_k"), ("beta.2", "norm"), ("beta.2", "train")]
    assert tree(sol / "alpha" / "attn") == {
        "PROMPT.md": b"their prompt\n",
        "flash.py": (src / "alpha/attn/flash.py").read_bytes(),
        "tests/deep/test_flash.py": b"def test_x():\n    assert 1\n",
        "session.jsonl": SESSION,
    }
    assert (sol / "alpha/attn/flash.py").stat().st_mode & 0o111  # executable bit kept
    assert (sol / "alpha/gpu_k/weights.bin").read_bytes() == BINARY
    assert not (sol / "alpha/attn/link.py").exists() and not (sol / "alpha/attn/etc_dir").exists()
    assert not (sol / "alpha" / "norm").exists()  # only PROMPT.md: no attempt
    assert not (sol / "alpha" / "mystery_challenge").exists() and not (sol / "stranger").exists()
    assert not (sol / "linked_model").exists() and not (sol / "analysis").exists()
    assert tree(sol / "beta.2" / "train") == tree(src / "beta.2" / "train")
    # a corpus that is not this challenge's prompt data counts as the model's output
    assert (sol / "beta.2/norm/corpus/corpus.txt").exists()
    assert list(project.adapters_dir.iterdir()) == []

    models = discover_models(sol)
    assert set(models) == {"alpha", "beta.2"}
    assert (models["alpha"].name, models["alpha"].provider) == ("Alpha One", "Lab A")
    assert models["beta.2"].note == 'a "quoted" note'

    assert summary.files == 4 + 2 + 2 + 3
    assert summary.bytes == sum(len(b) for m, c in summary.imported for b in tree(sol / m / c).values())
    assert summary.no_attempt == ["alpha/norm"]
    assert summary.unknown_models == ["analysis", "stranger"]
    assert summary.unknown_challenges == ["alpha/mystery_challenge", "beta.2/empty"]
    skipped = dict(summary.skipped)
    assert skipped["alpha/attn/link.py"].startswith("symbolic link")
    assert skipped["alpha/attn/etc_dir"].startswith("symbolic link")
    assert skipped["linked_model"].startswith("symbolic link")
    assert "debris" in skipped["alpha/attn/__pycache__"]
    assert "outside any challenge" in skipped["alpha/notes.txt"]
    text = summary.render()
    for needle in ("models: alpha, beta.2", "challenges: 4", "solutions imported: 4", "files copied: 11",
                   "no attempt", "alpha/norm", "--map stranger=MODEL-ID", "analysis/: not a model folder (no challenge", "alpha/mystery_challenge/: not a challenge",
                   "alpha/attn/link.py: symbolic link"):
        assert needle in text, needle


def test_import_folder(project, tmp_path):
    src = build_external_repo(tmp_path)
    before = tree(src)
    summary = import_study(project, str(src), {}, force=False)
    check_imported(project, src, summary)
    assert tree(src) == before  # the source is read, never changed
    assert summary.commit == "" and summary.ok


def test_reimport_keeps_then_force_replaces(project, tmp_path):
    src = build_external_repo(tmp_path)
    import_study(project, str(src))
    mine = project.solutions_dir / "alpha" / "attn" / "flash.py"
    mine.write_bytes(b"edited locally\n")
    (project.solutions_dir / "alpha" / "attn" / "stale.py").write_bytes(b"old\n")
    (project.solutions_dir / "alpha" / "model.toml").write_text('name = "Renamed"\n')

    again = import_study(project, str(src))
    assert again.imported == [] and sorted(again.kept) == sorted(
        [("alpha", "attn"), ("alpha", "gpu_k"), ("beta.2", "norm"), ("beta.2", "train")])
    assert mine.read_bytes() == b"edited locally\n" and again.files == 0
    assert again.model_tomls == [] and load_model(project.solutions_dir / "alpha").name == "Renamed"
    assert "kept (a solution exists; --force replaces it): alpha/attn" in again.render()

    forced = import_study(project, str(src), force=True)
    assert len(forced.replaced) == 4 and "4 replaced with --force" in forced.render()
    assert mine.read_bytes() == (src / "alpha/attn/flash.py").read_bytes()
    assert not (project.solutions_dir / "alpha" / "attn" / "stale.py").exists()
    assert load_model(project.solutions_dir / "alpha").name == "Alpha One"
    leftovers = [p.name for p in (project.solutions_dir / "alpha").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_scaffolded_folders_are_filled_without_force(project, tmp_path):
    src = build_external_repo(tmp_path)
    new_model(project, "alpha")
    (project.solutions_dir / "alpha" / "model.toml").write_text('name = "Mine"\n')
    summary = import_study(project, str(src))
    assert ("alpha", "attn") in summary.imported and summary.kept == []
    assert (project.solutions_dir / "alpha/attn/PROMPT.md").read_bytes() == b"their prompt\n"
    assert (project.solutions_dir / "alpha/norm/PROMPT.md").exists()  # our scaffold left alone
    assert load_model(project.solutions_dir / "alpha").name == "Mine"  # existing model.toml kept


def test_map_unknown_and_renamed_folders(project, tmp_path):
    src = build_external_repo(tmp_path)
    summary = import_study(project, str(src), parse_maps(["stranger=stranger-1", "alpha=alpha-v2"]))
    assert summary.unknown_models == ["analysis"]
    assert summary.models == {"stranger-1": "stranger", "alpha-v2": "alpha", "beta.2": "beta.2"}
    assert (project.solutions_dir / "stranger-1/attn/a.py").read_bytes() == b"a = 1\n"
    assert load_model(project.solutions_dir / "stranger-1").name == "stranger-1"
    renamed = load_model(project.solutions_dir / "alpha-v2")
    assert (renamed.name, renamed.provider) == ("Alpha One", "Lab A")  # study data follows the folder
    assert not (project.solutions_dir / "alpha").exists()
    assert "alpha-v2 (from alpha/)" in summary.render()


def test_bad_maps_fail_before_writing(project, tmp_path):
    src = build_external_repo(tmp_path)
    with pytest.raises(ContentError, match="invalid model id"):
        parse_maps(["stranger=Not Valid"])
    with pytest.raises(ContentError, match="invalid model id"):
        import_study(project, str(src), {"stranger": "_reserved"})
    with pytest.raises(LlmbenchError, match="FOLDER=MODEL"):
        parse_maps(["stranger"])
    with pytest.raises(LlmbenchError, match="no folder 'ghost'"):
        import_study(project, str(src), {"ghost": "ghost"})
    with pytest.raises(LlmbenchError, match="both map to model 'alpha'"):
        import_study(project, str(src), {"stranger": "alpha"})
    assert list(project.solutions_dir.iterdir()) == []


def test_missing_source(project, tmp_path):
    with pytest.raises(LlmbenchError, match="no such folder"):
        import_study(project, str(tmp_path / "nope"))


def test_source_without_models_says_so(project, tmp_path):
    (tmp_path / "other" / "docs").mkdir(parents=True)
    summary = import_study(project, str(tmp_path / "other"))
    assert not summary.ok and "nothing imported" in summary.render()


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main",
                    *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_import_local_git_repository_by_file_url(project, tmp_path):
    src = build_external_repo(tmp_path)
    git("init", "-q", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-q", "-m", "synthetic", cwd=src)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True).stdout.strip()
    url = src.as_uri()
    assert url.startswith("file://") and is_url(url)
    summary = import_study(project, url)
    assert summary.commit == head and head[:12] in summary.render()
    # git does not keep __pycache__ out of a commit, but the importer still skips it; an
    # empty .keep-only folder and the symlinks behave as in the folder import.
    check_imported(project, src, summary)
    assert not (project.solutions_dir / "alpha" / ".git").exists()


def test_failed_clone_is_an_error(project, tmp_path):
    with pytest.raises(LlmbenchError, match="git clone"):
        import_study(project, (tmp_path / "no-repo").as_uri())


def test_cli_import_and_new_model(project, tmp_path, monkeypatch, capsys):
    cli = pytest.importorskip("llmbench.cli")
    if "import" not in cli.build_parser().format_help():
        pytest.skip("the CLI does not register import yet")
    src = build_external_repo(tmp_path)
    monkeypatch.setenv("LLMBENCH_ROOT", str(project.root))
    assert cli.main(["import", str(src), "--map", "stranger=stranger-1"]) == 0
    out = capsys.readouterr().out
    assert "solutions imported: 5" in out and "stranger-1 (from stranger/)" in out and "llmbench run" in out
    assert (project.solutions_dir / "stranger-1" / "attn" / "a.py").exists()
    assert cli.main(["import", str(src), "--map", "stranger=Bad Id"]) == 2
    assert "invalid model id" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["import", str(empty)]) == 1
    assert cli.main(["new-model", "delta"]) == 0
    assert "Challenges by difficulty" in capsys.readouterr().out
    assert cli.main(["new-model", "delta"]) == 2


def test_import_drops_set_uid_and_group_write_bits(project, tmp_path):
    """Issue 13: a set-uid file of a local study folder was imported (as root) as a 4755 file."""
    src = build_external_repo(tmp_path)
    os.chmod(src / "alpha/attn/flash.py", 0o4775)
    os.chmod(src / "alpha/gpu_k/kernel.cu", 0o2666)
    import_study(project, str(src), {}, force=False)
    sol = project.solutions_dir / "alpha"
    assert stat.S_IMODE((sol / "attn/flash.py").stat().st_mode) == 0o755
    assert stat.S_IMODE((sol / "gpu_k/kernel.cu").stat().st_mode) == 0o644


@pytest.mark.parametrize("swap", ["file", "folder", "fifo"])
def test_a_file_swapped_for_a_link_after_the_walk_is_refused_not_followed(project, tmp_path, monkeypatch, swap):
    """Issue 13: a file replaced by a symlink between the walk and the copy made the import
    chmod (and copy) the link's target. Now every level is opened with O_NOFOLLOW."""
    import llmbench.importer as importer

    src = build_external_repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "test_flash.py"
    secret.write_text("SECRET outside the study\n")
    os.chmod(secret, 0o600)
    real_walk = importer._walk

    def walk_then_swap(folder, rel, summary, shown):
        files = real_walk(folder, rel, summary, shown)
        if shown == "alpha/attn" and rel == Path():
            if swap == "file":
                (folder / "flash.py").unlink()
                os.symlink(secret, folder / "flash.py")
            elif swap == "folder":
                shutil.rmtree(folder / "tests" / "deep")
                os.symlink(outside, folder / "tests" / "deep")
            else:
                (folder / "flash.py").unlink()
                os.mkfifo(folder / "flash.py")
        return files

    monkeypatch.setattr(importer, "_walk", walk_then_swap)
    summary = import_study(project, str(src), {}, force=False)
    sol = project.solutions_dir / "alpha" / "attn"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert not any("SECRET" in p.read_text(errors="replace") for p in sol.rglob("*") if p.is_file())
    assert not any(p.is_symlink() for p in sol.rglob("*"))
    gone = "alpha/attn/flash.py" if swap != "folder" else "alpha/attn/tests/deep/test_flash.py"
    assert "changed while importing" in dict(summary.skipped)[gone]
    assert (sol / "PROMPT.md").read_bytes() == b"their prompt\n"  # the rest is imported


def test_byte_identical_code_across_models_is_reported(project, tmp_path):
    # Issue 11: two models' dflash folders held the same file; discovery judged one model on
    # the other's code. The importer names such files so an adapter mapping can say which.
    src = build_external_repo(tmp_path)
    shared = b"def flash_attention_fwd(Q, K, V, t, causal=True):\n    return Q * 2\n"
    (src / "alpha/attn/shared.py").write_bytes(shared)
    (src / "beta.2/attn").mkdir()
    (src / "beta.2/attn/shared.py").write_bytes(shared)
    (src / "beta.2/attn/own.py").write_bytes(b"x = 2\n")
    summary = import_study(project, str(src))
    assert summary.identical == [["alpha/attn/shared.py", "beta.2/attn/shared.py"]]
    assert "alpha/attn/shared.py = beta.2/attn/shared.py" in summary.render()
