"""The site's layout: its outline (generated pages, challenges, models), the analysis pages, the nav, page metadata.

Light on purpose: a warm build lays the site out from a cached outline, without loading
the results or importing the renderers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .text import nav_title, title_of

# Search boosts: a reader searching a model's or a challenge's name wants its page first.
BOOST = {"models/": 5.0, "challenges/": 4.0, "solutions/": 1.0}
RESULT_PAGES = ("models/", "challenges/", "solutions/", "downloads.md", "statuses.md")


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
            title = title_of(path.read_text(encoding="utf-8"), path.stem.replace("_", " ").capitalize())
            out.append((f"analysis/{rel}", title))
    return out


@dataclass
class Outline:
    """What the site generates, as a build lays it out (cached between builds as JSON).

    Attributes:
        challenges: (challenge id, title) in the site's order.
        models: (model id, name) in the site's order.
        pages: The generated pages' src_uris, in the order they are added.
        downloads: The downloadable files: src_uri -> text.
    """

    challenges: list[tuple[str, str]] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    downloads: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The outline as JSON-ready data."""
        return {"challenges": self.challenges, "models": self.models, "pages": self.pages, "downloads": self.downloads}

    @classmethod
    def from_json(cls, data: dict) -> "Outline":
        """The outline `to_json` gave.

        Args:
            data: JSON data.

        Returns:
            The outline.

        Raises:
            KeyError, TypeError, ValueError: The data is not an outline.
        """
        return cls([tuple(x) for x in data["challenges"]], [tuple(x) for x in data["models"]],
                   list(data["pages"]), dict(data["downloads"]))


def expand_nav(nav: list, outline: Outline, analysis_pages: list[tuple[str, str]]) -> list:
    """Turn the entries challenges/index.md, models/index.md and analysis/index.md into sections.

    Args:
        nav: mkdocs.yml's nav.
        outline: The site's outline (challenges and models listed).
        analysis_pages: (src_uri, title) of the analysis pages.

    Returns:
        The nav with each of those entries followed by one entry per challenge, model or page.
    """
    # The theme prints nav titles as HTML, unescaped: a model's name (from an imported
    # study's model.toml) must reach it as text.
    sections = {
        "challenges/index.md": [{nav_title(title): f"challenges/{cid}.md"} for cid, title in outline.challenges],
        "models/index.md": [{nav_title(name): f"models/{mid}.md"} for mid, name in outline.models],
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
