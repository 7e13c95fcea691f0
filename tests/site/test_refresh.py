"""`llmbench refresh FILE...`: in-place, idempotent, lossless, links to the published site."""
from __future__ import annotations

import shutil
import stat

import pytest

from llmbench.errors import ContentError
from llmbench.project import Project
from llmbench.site import refresh_files
from llmbench.site.markers import skeleton
from llmbench.site.refresh import mkdocs_settings


@pytest.fixture
def repo(synthetic_root, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root)
    return root


def test_refresh_rewrites_only_generated_text_and_is_idempotent(repo):
    readme = repo / "README.md"
    readme.chmod(0o644)
    before = readme.read_text()
    changed = refresh_files([readme], Project(repo))
    assert changed == [readme]
    after = readme.read_text()
    assert skeleton(after) == skeleton(before)  # hand-written text byte-identical
    assert "Middle text, kept byte for byte.   Trailing spaces too." in after
    assert "stale generated text" not in after
    assert "`<!-- live: ranking -->` example in code" in after  # the example in code was left alone
    assert after.count("<!-- /live -->") == 3
    assert "](https://synthetic.example.org/bench/solutions/synthetic-a/alpha/)" in after
    assert "[Chart: Alpha Attention: err (measured by llmbench)](https://synthetic.example.org/bench/challenges/alpha/#chart-err)" in after
    assert "<svg" not in after and "<span" not in after and ".md)" not in after
    assert stat.S_IMODE(readme.stat().st_mode) == 0o644
    assert refresh_files([readme], Project(repo)) == []  # a second refresh changes nothing
    assert readme.read_text() == after


def test_mistake_writes_nothing(repo):
    good, bad = repo / "README.md", repo / "docs/bad.md"
    bad.write_text("x\n<!-- live: grade-matrix models=nobody -->\n")
    original = good.read_bytes()
    with pytest.raises(ContentError) as exc:
        refresh_files([good, bad], Project(repo))
    assert "docs/bad.md:2" in str(exc.value) and "valid models: synthetic-g" in str(exc.value)
    assert good.read_bytes() == original


def test_settings_read_from_mkdocs_yml_with_tags(repo):
    yml = repo / "mkdocs.yml"
    yml.write_text(yml.read_text() + "\nextra:\n  x: !ENV [HOME, none]\n  y: !!python/name:os.getcwd\n")
    settings = mkdocs_settings(repo)
    assert settings["site_url"] == "https://synthetic.example.org/bench/"
    assert settings["options"] == {"publish_sources": True}


def test_refresh_needs_site_url(repo):
    yml = repo / "mkdocs.yml"
    yml.write_text(yml.read_text().replace("site_url: https://synthetic.example.org/bench/\n", ""))
    with pytest.raises(ContentError, match="site_url"):
        refresh_files([repo / "README.md"], Project(repo))


def test_cli_refresh_command(repo, monkeypatch, capsys):
    from llmbench.cli import main

    monkeypatch.setenv("LLMBENCH_ROOT", str(repo))
    monkeypatch.chdir(repo)
    assert main(["refresh", "README.md"]) == 0
    assert "refreshed README.md" in capsys.readouterr().out
    assert main(["refresh", "README.md"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    (repo / "docs/orphan.md").write_text("<!-- /live -->\n")
    assert main(["refresh", "docs/orphan.md"]) == 2
    assert "docs/orphan.md:1" in capsys.readouterr().err
