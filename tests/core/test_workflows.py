"""The CI workflow files are valid GitHub Actions workflows (vendored schema, offline)."""
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(path):
    pytest.importorskip("check_jsonschema")
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_site_workflow_shards_merges_and_deploys():
    text = (WORKFLOWS[0].parent / "site.yml").read_text()
    for needle in ("llmbench study", "llmbench run --shard", "llmbench merge", "mkdocs build --strict", "actions/deploy-pages",
                   "actions/upload-pages-artifact", "pull_request", "actions/cache"):
        assert needle in text
