"""The llmbench mkdocs plugin: thin glue between mkdocs' hooks and the pure renderers.

Per build it loads the site data once, adds the generated pages (challenges, models,
solutions, downloads, analysis/) as virtual files, renders live directives in hand-written
pages, and swaps raw-HTML placeholders back in after markdown conversion. What each hook
does lives elsewhere: `layout` (which pages, the nav), `directives` (rendering),
`markers` (finding directives), `stash` (raw HTML), `legends` (glyph legends).
"""
from __future__ import annotations

import logging
import posixpath
import secrets
from importlib import resources
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from ..errors import ContentError
from . import layout, pages
from .cache import ChartStore
from .config import LlmbenchConfig
from .context import Context, default_flags
from .data import SiteData, load_site_data
from .directives import render
from .legends import page_legend
from .links import SiteLinks
from .markers import replace
from .prose import unbacked_results
from .stash import RawStash
from .text import nav_title

log = logging.getLogger("mkdocs.plugins.llmbench")
ASSETS = ("llmbench.css", "llmbench.js")
ASSET_DIR = "assets/llmbench"
WATCHED = ("analysis", "challenges", "results", "solutions", "adapters", "data")


class LlmbenchPlugin(BasePlugin[LlmbenchConfig]):
    """The mkdocs plugin `llmbench` (see `config.LlmbenchConfig` for its options)."""

    supports_multiple_instances = False

    def __init__(self):
        self.data: SiteData | None = None
        self.root: Path | None = None
        self.generated: dict[str, layout.Page] = {}  # src_uri -> function(ctx) -> markdown
        self.stashes: dict[str, RawStash] = {}
        self.analysis_pages: list[tuple[str, str]] = []

    def on_config(self, config):
        """Load the site data, add the assets, expand the nav's sections.

        Args:
            config: mkdocs' configuration.

        Returns:
            The configuration, changed.

        Raises:
            PluginError: Contributor content is wrong (the message names the file and key).
        """
        base = Path(config.config_file_path or ".").resolve().parent
        self.root = (base / self.config.root).resolve() if self.config.root else base
        try:
            self.data = load_site_data(self.root, self.root / self.config.results_dir, self.root / self.config.study,
                                       self.config.publish_sources)
        except ContentError as exc:
            raise PluginError(f"llmbench: {exc}") from None
        self.flags = default_flags()
        self.charts = ChartStore(self.root / ".llmbench" / "charts")
        self.stashes = {}
        for name in ASSETS:
            target = config.extra_css if name.endswith(".css") else config.extra_javascript
            if f"{ASSET_DIR}/{name}" not in [str(x) for x in target]:
                target.append(f"{ASSET_DIR}/{name}")
        self.analysis_pages = layout.analysis_files(self.root / self.config.analysis_dir)
        if config.nav:
            config.nav = layout.expand_nav(config.nav, self.data, self.analysis_pages)
        return config

    def on_files(self, files: Files, *, config) -> Files:
        """Add the generated pages, the downloads, the assets and the analysis folder's files.

        Args:
            files: The files mkdocs found in docs/.
            config: mkdocs' configuration.

        Returns:
            The files with ours added.

        Raises:
            PluginError: A file in docs/ would hide a generated page.
        """
        self.generated = {}

        def add(uri: str, make) -> None:
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"llmbench: docs/{uri} would hide a generated page; remove or rename it")
            files.append(File.generated(config, uri, content=""))
            self.generated[uri] = make

        for uri, make in layout.generated_pages(self.data).items():
            add(uri, make)
        for uri, content in layout.download_files(self.data).items():
            files.append(File.generated(config, uri, content=content))
        for name in ASSETS:
            text = (resources.files("llmbench.site") / "assets" / name).read_text(encoding="utf-8")
            files.append(File.generated(config, f"{ASSET_DIR}/{name}", content=text))

        folder = self.root / self.config.analysis_dir
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                if layout.shown_analysis(path.relative_to(folder).as_posix()):
                    files.append(File(f"analysis/{path.relative_to(folder).as_posix()}", src_dir=str(self.root),
                                      dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls))
        if files.get_file_from_path("analysis/index.md") is None:
            add("analysis/index.md", lambda ctx: pages.analysis_index(
                [(u, t) for u, t in self.analysis_pages if u != "analysis/index.md"], ctx))
        return files

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
        """A generated page's markdown, or a written page with its live directives rendered.

        Args:
            markdown: The page's markdown (front matter removed).
            page: The page.
            config: mkdocs' configuration.
            files: The site's files.

        Returns:
            The markdown mkdocs converts.

        Raises:
            PluginError: A directive is wrong (file and line named).
        """
        uri = page.file.src_uri
        ctx, shown = self._context(page)
        if uri in self.generated:
            layout.page_meta(page.meta, uri)
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
        """Restore the page's raw HTML, give the theme an escaped title, add a glyph legend where needed.

        Args:
            html: The page's HTML after conversion.
            page: The page.
            config: mkdocs' configuration.
            files: The site's files.

        Returns:
            The page's HTML.
        """
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
        """Rebuild when content outside docs/ changes: analysis, challenges, results, solutions...

        Args:
            server: mkdocs' live-reload server.
            config: mkdocs' configuration.
            builder: mkdocs' rebuild function.

        Returns:
            The server.
        """
        for name in WATCHED:
            folder = self.root / name
            if folder.is_dir():
                server.watch(str(folder))
        return server


def _front_matter_lines(file, markdown: str) -> int:
    """Lines of YAML front matter that mkdocs removed before the markdown we see."""
    try:
        full = file.content_string
    except (OSError, TypeError, AttributeError):
        return 0
    idx = full.find(markdown) if markdown else -1
    return full.count("\n", 0, idx) if idx > 0 else 0
