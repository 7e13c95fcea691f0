"""`llmbench serve` and a programmatic `make site`: mkdocs with llmbench's folders watched."""
from __future__ import annotations

import logging
from pathlib import Path

from ..project import Project

WATCHED = ("analysis", "challenges", "results", "solutions", "adapters", "data")


def _show_mkdocs_log() -> None:
    """mkdocs' warnings (broken links, directive errors) on stderr, as the mkdocs command shows them."""
    log = logging.getLogger("mkdocs")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def serve(project: Project | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the site, rebuilding on changes to docs/, analysis/, challenges/, results/ (and more).

    The site is served under the path of site_url (e.g. http://127.0.0.1:8000/llmbench/).

    Args:
        project: The repository; default: found from the working directory.
        host: The address to listen on.
        port: The port.
    """
    from mkdocs.commands.serve import serve as mkdocs_serve

    _show_mkdocs_log()
    project = project or Project.find()
    watch = [str(project.root / name) for name in WATCHED if (project.root / name).is_dir()]
    mkdocs_serve(config_file=str(project.root / "mkdocs.yml"), dev_addr=f"{host}:{port}", watch=watch)


def build_site(project: Project | None = None, site_dir: Path | None = None, strict: bool = True) -> Path:
    """Build the site like `mkdocs build --strict`.

    Args:
        project: The repository; default: found from the working directory.
        site_dir: Where to build; default: mkdocs.yml's site_dir.
        strict: Fail on warnings (broken links, unbacked figures).

    Returns:
        The site folder.

    Raises:
        mkdocs.exceptions.Abort: The build failed; mkdocs logged why.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    _show_mkdocs_log()
    project = project or Project.find()
    extra = {"site_dir": str(site_dir)} if site_dir else {}
    config = load_config(config_file=str(project.root / "mkdocs.yml"), strict=strict, **extra)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
    return Path(config.site_dir)
