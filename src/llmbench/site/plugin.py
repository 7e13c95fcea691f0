"""The llmbench mkdocs plugin: thin glue between mkdocs and the pure renderers.

Per build it loads the site data once, adds the generated pages (challenges, models,
solutions, downloads, analysis/) as virtual files, renders live directives in hand-written
pages, and swaps raw-HTML placeholders back in after markdown conversion.
"""
from __future__ import annotations

import logging
import posixpath
import secrets
import re
from importlib import resources
from pathlib import Path

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from ..errors import ContentError
from ..vocabulary import KINDS
from . import pages
from .claims import claims_page
from .data import SiteData, load_site_data
from .directives import replace
from .links import SiteLinks
from .prose import unbacked_results
from .render import Context, default_flags, render
from .text import nav_title

log = logging.getLogger("mkdocs.plugins.llmbench")
ASSETS = ("llmbench.css", "llmbench.js")
ASSET_DIR = "assets/llmbench"
WATCHED = ("analysis", "challenges", "results", "solutions", "adapters", "data")


class LlmbenchConfig(Config):
    root = c.Optional(c.Type(str))  # the llmbench repository; default: the folder of mkdocs.yml
    results_dir = c.Type(str, default="results")
    study = c.Type(str, default="data/study.toml")
    analysis_dir = c.Type(str, default="analysis")
    publish_sources = c.Type(bool, default=True)  # false: solution pages show results only


class RawStash:
    """Raw HTML kept out of markdown: a placeholder word goes in, the HTML comes back after conversion."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.items: dict[str, str] = {}

    def __call__(self, html: str) -> str:
        # The prefix holds a secret made at build time: text a solution wrote long before
        # cannot imitate a token and have our HTML (or its own) restored in its place.
        token = f"{self.prefix}x{len(self.items):05d}x"
        self.items[token] = html
        return f"\n\n{token}\n\n"

    def restore(self, html: str) -> str:
        for token, value in self.items.items():
            html = html.replace(f"<p>{token}</p>", value).replace(token, value)
        return html


class LlmbenchPlugin(BasePlugin[LlmbenchConfig]):
    supports_multiple_instances = False

    def __init__(self):
        self.data: SiteData | None = None
        self.root: Path | None = None
        self.generated: dict[str, object] = {}  # src_uri -> function(ctx) -> markdown
        self.stashes: dict[str, RawStash] = {}
        self.analysis_pages: list[tuple[str, str]] = []

    # ---- configuration and data -------------------------------------------------------
    def on_config(self, config):
        base = Path(config.config_file_path or ".").resolve().parent
        self.root = (base / self.config.root).resolve() if self.config.root else base
        try:
            self.data = load_site_data(self.root, self.root / self.config.results_dir, self.root / self.config.study,
                                       self.config.publish_sources)
        except ContentError as exc:
            raise PluginError(f"llmbench: {exc}") from None
        self.flags = default_flags()
        from . import charts as chart_module

        chart_module.CACHE_DIR = self.root / ".llmbench" / "charts"
        self.charts: dict = {}
        self.stashes = {}
        for name in ASSETS:
            target = config.extra_css if name.endswith(".css") else config.extra_javascript
            if f"{ASSET_DIR}/{name}" not in [str(x) for x in target]:
                target.append(f"{ASSET_DIR}/{name}")
        self.analysis_pages = self._analysis_files()
        if config.nav:
            config.nav = self._expand_nav(config.nav)
        return config

    def _analysis_files(self) -> list[tuple[str, str]]:
        folder = self.root / self.config.analysis_dir
        out = []
        if folder.is_dir():
            for path in sorted(folder.rglob("*.md")):
                rel = path.relative_to(folder).as_posix()
                if rel.split("/")[0].startswith((".", "_")):
                    continue
                title = pages.title_of(path.read_text(encoding="utf-8"), path.stem.replace("_", " ").capitalize())
                out.append((f"analysis/{rel}", title))
        return out

    def _expand_nav(self, nav):
        """Turn the entries challenges/index.md, models/index.md and analysis/index.md into sections."""
        d = self.data
        # The theme prints nav titles as HTML, unescaped: a model's name (from an imported
        # study's model.toml) must reach it as text.
        sections = {
            "challenges/index.md": [{nav_title(info.title): f"challenges/{cid}.md"} for cid, info in d.challenges.items()],
            "models/index.md": [{nav_title(info.name): f"models/{mid}.md"} for mid, info in d.models.items()],
            "analysis/index.md": [{nav_title(title): uri} for uri, title in self.analysis_pages
                                  if uri != "analysis/index.md"],
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

    # ---- files ---------------------------------------------------------------------------
    def on_files(self, files: Files, *, config) -> Files:
        d = self.data
        self.generated = {}

        def add(uri: str, make) -> None:
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"llmbench: docs/{uri} would hide a generated page; remove or rename it")
            files.append(File.generated(config, uri, content=""))
            self.generated[uri] = make

        add("challenges/index.md", lambda ctx: pages.challenges_index(d, ctx))
        add("statuses.md", lambda ctx: pages.statuses_page(ctx))
        add("models/index.md", lambda ctx: pages.models_index(d, ctx))
        add("downloads.md", lambda ctx: pages.downloads_page(d, ctx))
        add("fidelity.md", lambda ctx: pages.fidelity_page(d, ctx))
        add("claims.md", lambda ctx: claims_page(d, ctx))
        for cid in d.challenges:
            add(f"challenges/{cid}.md", lambda ctx, cid=cid: pages.challenge_page(d, cid, ctx))
        for mid in d.models:
            add(f"models/{mid}.md", lambda ctx, mid=mid: pages.model_page(d, mid, ctx))
        for mid, cid in d.pairs:
            add(f"solutions/{mid}/{cid}.md", lambda ctx, m=mid, c=cid: pages.solution_page(d, m, c, ctx))

        for uri, content in (("downloads/results.json", pages.results_json(d)),
                             ("downloads/results.csv", pages.results_csv(d)),
                             ("downloads/result.schema.json", pages.schema_json()),
                             ("downloads/study.json", pages.study_json(d))):
            files.append(File.generated(config, uri, content=content))
        for name in ASSETS:
            text = (resources.files("llmbench.site") / "assets" / name).read_text(encoding="utf-8")
            files.append(File.generated(config, f"{ASSET_DIR}/{name}", content=text))

        folder = self.root / self.config.analysis_dir
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                rel = path.relative_to(folder).as_posix()
                if rel.split("/")[0].startswith((".", "_")):
                    continue
                files.append(File(f"analysis/{rel}", src_dir=str(self.root), dest_dir=config.site_dir,
                                  use_directory_urls=config.use_directory_urls))
        if files.get_file_from_path("analysis/index.md") is None:
            add("analysis/index.md", lambda ctx: pages.analysis_index(
                [(u, t) for u, t in self.analysis_pages if u != "analysis/index.md"], ctx))
        return files

    # ---- pages ---------------------------------------------------------------------------
    def _context(self, page) -> tuple[Context, str]:
        uri = page.file.src_uri
        stash = self.stashes[uri] = RawStash(f"lbraw{secrets.token_hex(12)}{len(self.stashes)}")
        abs_path = page.file.abs_src_path
        shown = posixpath.join("docs", uri)
        if abs_path:
            try:
                shown = Path(abs_path).resolve().relative_to(self.root).as_posix()
            except ValueError:
                shown = abs_path
        ctx = Context(self.data, SiteLinks(uri), raw=stash, flags=self.flags, html=True, path=shown,
                      charts=self.charts)
        return ctx, shown

    def on_page_markdown(self, markdown: str, *, page, config, files) -> str:
        uri = page.file.src_uri
        ctx, shown = self._context(page)
        if uri in self.generated:
            _page_meta(page, uri)
            return self.generated[uri](ctx)  # generated pages are never scanned for directives
        offset = _front_matter_lines(page.file, markdown)
        if uri.startswith("analysis/"):
            for line, sentence in unbacked_results(markdown):
                # a warning: `mkdocs build --strict` fails, naming the sentence
                log.warning(f"llmbench: {shown}:{line + offset}: this sentence states a result that no live "
                            f"directive backs: \"{sentence[:200]}\". Put the figure in a live directive "
                            "(<!-- live: value ... -->) or say who reported it, with the source.")
        try:
            return replace(markdown, lambda d: render(d, ctx), shown, offset)
        except ContentError as exc:
            raise PluginError(f"llmbench: {exc}") from None

    def on_page_content(self, html: str, *, page, config, files) -> str:
        # The theme prints a page's title unescaped (meta.title) or through `striptags`, which
        # turns &lt; back into <: give it the heading's text escaped, as meta.title.
        heading = getattr(page, "_title_from_render", None)
        if heading and "title" not in page.meta and not page.is_homepage:
            page.meta["title"] = nav_title(heading)
        stash = self.stashes.pop(page.file.src_uri, None)
        html = stash.restore(html) if stash else html
        glossary = files.get_file_from_path("statuses.md")
        url = get_relative_url(glossary.url, page.url) if glossary else "statuses/"
        return html + page_legend(html, url, page.file.src_uri)

    def on_serve(self, server, *, config, builder):
        for name in WATCHED:
            folder = self.root / name
            if folder.is_dir():
                server.watch(str(folder))
        return server


# Search boosts: a reader searching a model's or a challenge's name wants its page first.
BOOST = {"models/": 5.0, "challenges/": 4.0, "solutions/": 1.0}
RESULT_PAGES = ("models/", "challenges/", "solutions/", "downloads.md", "statuses.md")


def _page_meta(page, uri: str) -> None:
    """Generated pages: no right-hand table of contents (tables get the room) and search boosts."""
    if uri.startswith(RESULT_PAGES):
        hide = list(page.meta.get("hide") or [])
        page.meta["hide"] = hide + [h for h in ("toc",) if h not in hide]
    for prefix, boost in BOOST.items():
        if uri.startswith(prefix) and not uri.endswith("index.md"):
            page.meta.setdefault("search", {"boost": boost})


_GLYPH_MARK = re.compile(r'<span class="lb-mark lb-([a-z]+)"')


def page_legend(html: str, glossary_url: str, uri: str) -> str:
    """A legend for every glyph kind on a page that no legend of the page explains yet ('' when none)."""
    if uri == "statuses.md":
        return ""
    used = list(dict.fromkeys(_GLYPH_MARK.findall(html)))
    explained = set()
    for legend in re.findall(r'<p class="lb-legend">(.*?)</p>', html, re.S):
        explained.update(_GLYPH_MARK.findall(legend))
    missing = [k for k in used if k in KINDS and k not in explained]
    flag = 'class="lb-flag"' in html and "grade contradicted" not in html
    if not missing and not flag:
        return ""
    entries = [f'<span class="lb-mark lb-{k}">{KINDS[k].glyph} {KINDS[k].label}</span>' for k in missing]
    if flag:
        entries.append('<span class="lb-flag">⚑ grade contradicted</span>')
    return (f'<p class="lb-legend">Legend: {" · ".join(entries)} · '
            f'<a href="{glossary_url}">all statuses</a></p>')


def _front_matter_lines(file, markdown: str) -> int:
    """Lines of YAML front matter that mkdocs removed before the markdown we see."""
    try:
        full = file.content_string
    except (OSError, TypeError, AttributeError):
        return 0
    idx = full.find(markdown) if markdown else -1
    return full.count("\n", 0, idx) if idx > 0 else 0

