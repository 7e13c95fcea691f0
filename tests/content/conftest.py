"""Fixtures for content tooling tests: a small synthetic llmbench project."""
from __future__ import annotations

from pathlib import Path

import pytest

from content_helpers import STUDY, write_challenge
from llmbench.project import Project

@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "data" / "study.toml").write_text(STUDY, encoding="utf-8")
    (root / "solutions").mkdir()
    (root / "adapters").mkdir()
    write_challenge(root, "attn", "Hard")
    write_challenge(root, "norm", "Medium")
    write_challenge(root, "gpu_k", "Medium", kind="cuda")
    write_challenge(
        root, "train", "Open-ended research",
        prompt="Train on `corpus/corpus.txt`; see also [notes](corpus/notes.md) and `reference/x.py`.\n",
        extra_toml='prompt_files = ["corpus/vocab.json"]',
        files={"corpus/corpus.txt": b"some text\n" * 10, "corpus/notes.md": b"notes\n",
               "corpus/vocab.json": b"{}\n", "corpus/unused.bin": b"\x00\x01",
               "reference/x.py": b"secret = 1\n", "conformance/test_a.py": b"def test(): pass\n"},
    )
    return Project(root)


