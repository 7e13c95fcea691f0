"""The site's layout: the generated pages, the analysis pages, the nav sections listing them, page metadata."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import pages
from .claims import claims_page
from .context import Context
from .data import SiteData
from .text import nav_title

# Search boosts: a reader searching a model's or a challenge's name wants its page first.
BOOST = {"models/": 5.0, "challenges/": 4.0, "solutions/": 1.0}
RESULT_PAGES = ("models/", "challenges/", "solutions/", "downloads.md", "statuses.md")


Page = Callable[[Context], str]


def generated_pages(d: SiteData) -> dict[str, Page]:
    """The pages the site generates from data, each as a function of its page context.

    Args:
        d: The site data.

    Returns:
        src_uri -> function(ctx) returning the page's markdown (the analysis index is
        added by the plugin only when analysis/ has none).
    """
    out: dict[str, Page] = {
        "challenges/index.md": lambda ctx: pages.challenges_index(d, ctx),
        "statuses.md": lambda ctx: pages.statuses_page(ctx),
        "models/index.md": lambda ctx: pages.models_index(d, ctx),
        "downloads.md": lambda ctx: pages.downloads_page(d, ctx),
        "fidelity.md": lambda ctx: pages.fidelity_page(d, ctx),
        "claims.md": lambda ctx: claims_page(d, ctx),
    }
    for cid in d.challenges:
        out[f"challenges/{cid}.md"] = lambda ctx, cid=cid: pages.challenge_page(d, cid, ctx)
    for mid in d.models:
        out[f"models/{mid}.md"] = lambda ctx, mid=mid: pages.model_page(d, mid, ctx)
    for mid, cid in d.pairs:
        out[f"solutions/{mid}/{cid}.md"] = lambda ctx, m=mid, c=cid: pages.solution_page(d, m, c, ctx)
    return out


def download_files(d: SiteData) -> dict[str, str]:
    """The downloadable files: all results as JSON and CSV, their schema, the study's facts.

    Args:
        d: The site data.

    Returns:
        src_uri -> the file's text.
    """
    return {"downloads/results.json": pages.results_json(d), "downloads/results.csv": pages.results_csv(d),
            "downloads/result.schema.json": pages.schema_json(), "downloads/study.json": pages.study_json(d)}


def shown_analysis(rel: str) -> bool:
    """False for files of the analysis folder the site leaves out (under a `.` or `_` folder).

    Args:
        rel: The file's path inside the analysis folder, posix.

    Returns:
        True when the file becomes part of the site.
    """
    return not rel.split("/")[0].startswith((".", "_"))


def analysis_files(folder: Path) -> list[tuple[str, str]]:
    """The analysis pages and their titles.

    Args:
        folder: The analysis folder.

    Returns:
        (src_uri under analysis/, title) per markdown file, sorted by path.
    """
    out = []
    if folder.is_dir():
        for path in sorted(folder.rglob("*.md")):
            rel = path.relative_to(folder).as_posix()
            if not shown_analysis(rel):
                continue
            title = pages.title_of(path.read_text(encoding="utf-8"), path.stem.replace("_", " ").capitalize())
            out.append((f"analysis/{rel}", title))
    return out


def expand_nav(nav: list, data: SiteData, analysis_pages: list[tuple[str, str]]) -> list:
    """Turn the entries challenges/index.md, models/index.md and analysis/index.md into sections.

    Args:
        nav: mkdocs.yml's nav.
        data: The site data (challenges and models listed).
        analysis_pages: (src_uri, title) of the analysis pages.

    Returns:
        The nav with each of those entries followed by one entry per challenge, model or page.
    """
    # The theme prints nav titles as HTML, unescaped: a model's name (from an imported
    # study's model.toml) must reach it as text.
    sections = {
        "challenges/index.md": [{nav_title(info.title): f"challenges/{cid}.md"} for cid, info in data.challenges.items()],
        "models/index.md": [{nav_title(info.name): f"models/{mid}.md"} for mid, info in data.models.items()],
        "analysis/index.md": [{nav_title(title): uri} for uri, title in analysis_pages if uri != "analysis/index.md"],
    }

    def walk(items):
        out = []
        for item in items:
            if isinstance(item, dict) and len(item) == 1:
                (title, value), = item.items()
                if isinstance(value, str) and value in sections:
                    out.append({title: [value, *sections[value]]})
                elif isinstance(value, list):
                    out.append({title: walk(value)})
                else:
                    out.append(item)
            elif isinstance(item, str) and item in sections:
                out.append({item.split("/")[0].capitalize(): [item, *sections[item]]})
            else:
                out.append(item)
        return out

    return walk(nav)


def page_meta(meta: dict, uri: str) -> None:
    """Metadata of a generated page: no table of contents on result pages (tables get the room), search boosts.

    Args:
        meta: The page's meta, changed in place.
        uri: The page's src_uri.
    """
    if uri.startswith(RESULT_PAGES):
        hide = list(meta.get("hide") or [])
        meta["hide"] = hide + [h for h in ("toc",) if h not in hide]
    for prefix, boost in BOOST.items():
        if uri.startswith(prefix) and not uri.endswith("index.md"):
            meta.setdefault("search", {"boost": boost})
