"""`llmbench refresh FILE...`: re-render live directives in place, for files read on GitHub.

Only text between a directive and its closing marker changes; links point to the
published site (site_url in mkdocs.yml) and charts become links, since GitHub strips
inline SVG. A second refresh changes nothing.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ContentError
from ..project import Project
from ..store import write_atomic
from .cache import ChartStore
from .data import SiteData, load_site_data
from .context import Context, default_flags
from .directives import render
from .links import AbsoluteLinks
from .markers import replace

PLUGIN = "llmbench"


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """Reads mkdocs.yml without running its tags (!ENV, !!python/name:...): they become None."""

    def ignore(loader, suffix, node):
        return None

    Loader.add_multi_constructor("!", ignore)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", ignore)
    return Loader


def mkdocs_settings(root: Path) -> dict:
    """site_url, use_directory_urls and the llmbench plugin's options from root/mkdocs.yml.

    Args:
        root: The repository.

    Returns:
        {"site_url": ..., "use_directory_urls": ..., "options": {...}}.

    Raises:
        ContentError: mkdocs.yml is missing or is not valid YAML.
    """
    import yaml

    path = root / "mkdocs.yml"
    if not path.exists():
        raise ContentError(path, "mkdocs.yml is missing: refresh needs its site_url and llmbench plugin options")
    try:
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader()) or {}
    except yaml.YAMLError as exc:
        raise ContentError(path, f"is not valid YAML ({exc})") from None
    options: dict = {}
    for item in config.get("plugins") or []:
        if isinstance(item, dict) and PLUGIN in item:
            options = item[PLUGIN] or {}
    return {
        # the deploy sets LLMBENCH_SITE_URL (mkdocs.yml reads it with !ENV, which this loader ignores)
        "site_url": (config.get("site_url") if isinstance(config.get("site_url"), str) else "")
        or os.environ.get("LLMBENCH_SITE_URL", ""),
        "use_directory_urls": config.get("use_directory_urls", True),
        "options": options,
    }


def load_for_refresh(root: Path) -> tuple[SiteData, dict]:
    """The site data and mkdocs settings `llmbench refresh` needs.

    Args:
        root: The repository.

    Returns:
        (site data, settings from `mkdocs_settings`).

    Raises:
        ContentError: mkdocs.yml or contributor content is wrong.
    """
    settings = mkdocs_settings(root)
    opts = settings["options"]
    base = (root / opts["root"]).resolve() if opts.get("root") else root
    data = load_site_data(base, base / opts.get("results_dir", "results"), base / opts.get("study", "data/study.toml"),
                          bool(opts.get("publish_sources", True)))
    return data, settings


def refresh_text(text: str, data: SiteData, site_url: str, path: str = "<text>",
                 use_directory_urls: bool = True, flags: Callable | None = None, charts: ChartStore | None = None) -> str:
    """text with every live directive re-rendered for GitHub (absolute links, no inline SVG).

    Args:
        text: Markdown.
        data: The site data.
        site_url: The published site's address.
        path: The file, for error messages.
        use_directory_urls: mkdocs' setting of that name.
        flags: The grade-versus-evidence flag hook, or None.
        charts: A chart store shared across files (charts become links on GitHub).

    Returns:
        The text; only what follows each directive up to its closing marker changed.

    Raises:
        ContentError: site_url is not set, or a directive is wrong (file and line named).
    """
    if not site_url:
        raise ContentError("mkdocs.yml", "site_url is not set: refresh links to the published site, so set it "
                           "(or the environment variable LLMBENCH_SITE_URL)")
    ctx = Context(data, AbsoluteLinks(site_url, use_directory_urls), flags=flags, html=False, path=path,
                  charts=charts if charts is not None else ChartStore())
    return replace(text, lambda d: render(d, ctx), path)


def refresh_files(paths: Iterable[str | Path], project: Project | None = None) -> list[Path]:
    """Re-render the live directives of each file in place.

    Contributor mistakes (unknown directive, model, metric; an orphan closing marker) raise
    before any file is written.

    Args:
        paths: The files.
        project: The repository; default: found from the working directory.

    Returns:
        The files that changed.

    Raises:
        ContentError: A file is missing, or holds a wrong directive (file and line named).
    """
    project = project or Project.find()
    data, settings = load_for_refresh(project.root)
    flags = default_flags()
    charts = ChartStore()
    updates = []
    for p in paths:
        path = Path(p)
        if not path.is_absolute():
            path = (Path.cwd() / path).resolve()
        try:
            shown = path.relative_to(project.root).as_posix()
        except ValueError:
            shown = str(path)
        if not path.is_file():
            raise ContentError(shown, "no such file to refresh")
        old = path.read_bytes().decode("utf-8")
        new = refresh_text(old, data, settings["site_url"], shown, settings["use_directory_urls"], flags, charts)
        if new != old:
            updates.append((path, new))
    for path, new in updates:
        mode = path.stat().st_mode & 0o7777
        write_atomic(path, new)  # text written as is: no newline translation on POSIX
        path.chmod(mode)  # the temporary file was created 0600
    return [path for path, _ in updates]
