"""`make site` on this repository: the bundled study's six models and eight challenges all appear."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmbench.project import Project
from llmbench.site.serve import build_site
from llmbench.study import load_study

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_repository_site_builds_strict_with_the_whole_study(tmp_path):
    study = load_study(ROOT / "data/study.toml")
    site = build_site(Project(ROOT), tmp_path / "site")
    index = json.loads((site / "search/search_index.json").read_text())
    locations = {d["location"].split("#")[0] for d in index["docs"]}
    for m in study.models:
        assert f"models/{m.id}/" in locations
    for c in study.challenges:
        assert f"challenges/{c.id}/" in locations
    home = (site / "index.html").read_text()
    assert study.judge in home and study.source in home
    names = [m.name for m in study.models]
    positions = [home.index(name) for name in names]
    assert [names[i] for i in sorted(range(6), key=positions.__getitem__)][:3] == ["GLM-5", "Claude Opus 4.7", "Qwen3-6"]
    for (model, challenge) in [(m, c) for c, g in study.grades.items() for m in g]:
        page = site / "solutions" / model / challenge / "index.html"
        assert page.is_file() and f"solutions/{model}/{challenge}/" in locations, (model, challenge)
        if not (ROOT / "solutions" / model / challenge).is_dir():
            assert "not in this repository" in page.read_text()
    assert not any("synthetic-" in p.name for p in (site / "models").iterdir())  # never ship test models
