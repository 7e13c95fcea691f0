"""Every bundled challenge's suite is validated: the reference avoids every trap it can
check here, every checkable mutant falls into its own trap and every cheat control fails the
suite (`llmbench validate`)."""
import re
import shutil

import pytest

from llmbench.challenge import load_challenges
from llmbench.cli import main
from tests.conftest import REPO

CHALLENGES = sorted(load_challenges(REPO / "challenges"))


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """One `llmbench validate` over a scratch copy (the repo's results/ stay untouched)."""
    root = tmp_path_factory.mktemp("validate")
    shutil.copytree(REPO / "challenges", root / "challenges", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "solutions").mkdir()
    return root


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_suite_catches_every_mutant(validated, monkeypatch, capsys):
    monkeypatch.setenv("LLMBENCH_ROOT", str(validated))
    code = main(["validate", "--jobs", "2"])
    out = capsys.readouterr().out
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if ": reference" in line}
    assert sorted(lines) == CHALLENGES, out
    for cid, line in lines.items():
        assert "reference ok" in line and "missed" not in line and "no mutant" not in line, line
        caught, checked = map(int, re.search(r"cheats caught (\d+)/(\d+)", line).groups())
        assert caught == checked and "PASSED the suite" not in line, line
        declared = len(load_challenges(REPO / "challenges")[cid].cheat_names)
        assert declared >= 4, f"{cid}: only {declared} cheat controls"
        if "no CUDA device" not in line:
            assert checked == declared, line
    assert code == 0, out
