from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import make_project  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A synthetic repository shared read-only by the tests of a session (copy it to change it)."""
    return make_project(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def synthetic_data(synthetic_root):
    from llmbench.site.data import load_site_data

    return load_site_data(synthetic_root)


@pytest.fixture(scope="session")
def synthetic_site(synthetic_root, tmp_path_factory) -> Path:
    """The synthetic repository built with `mkdocs build --strict` (once per session)."""
    from llmbench.project import Project
    from llmbench.site.serve import build_site

    return build_site(Project(synthetic_root), tmp_path_factory.mktemp("site") / "site")
