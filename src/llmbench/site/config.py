"""The llmbench plugin's options in mkdocs.yml (`plugins: - llmbench: ...`)."""
from __future__ import annotations

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class LlmbenchConfig(Config):
    """Options of the llmbench mkdocs plugin.

    Attributes:
        root: The llmbench repository; default: the folder of mkdocs.yml.
        results_dir: Where results are read from, relative to root.
        study: The published study's facts, relative to root.
        analysis_dir: Folder of analysis pages (`*.md` become pages under "Analysis").
        publish_sources: False: solution pages show results only, not the solutions' code.
    """

    root = c.Optional(c.Type(str))
    results_dir = c.Type(str, default="results")
    study = c.Type(str, default="data/study.toml")
    analysis_dir = c.Type(str, default="analysis")
    publish_sources = c.Type(bool, default=True)
