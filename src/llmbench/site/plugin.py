"""The llmbench mkdocs plugin: thin glue between mkdocs' hooks and the pure renderers.

Per build it adds the generated pages (challenges, models, solutions, downloads,
analysis/) as virtual files, renders live directives in hand-written pages, and swaps
raw-HTML placeholders back in after markdown conversion. What each hook does lives
elsewhere: `inputs` and `cache` (what is reused), `layout` and `generated` (which pages,
the nav), `directives` (rendering), `markers` (finding directives), `stash` (raw HTML),
`legends` (glyph legends). When its inputs changed, a build renders what is not cached
ahead (on_files), so that chart workers (`cache.ChartStore`) draw while mkdocs converts
pages; on_env puts the charts in, before any page is indexed or written.
"""
from __future__ import annotations

import json
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
from . import layout
from .cache import ChartStore, PageCache, chart_workers
from .config import LlmbenchConfig
from .context import Context
from .inputs import Fingerprint, fingerprint
from .legends import page_legend
from .links import SiteLinks
from .markers import Directive, replace
from .prose import unbacked_results
from .stash import RawStash
from .text import nav_title

# Not imported here: data, generated, pages and directives (pydantic, the schema, every
# renderer). A warm build whose pages are all in the cache never needs them.

log = logging.getLogger("mkdocs.plugins.llmbench")
ASSETS = ("llmbench.css", "llmbench.js")
ASSET_DIR = "assets/llmbench"
WATCHED = ("analysis", "challenges", "results", "solutions", "adapters", "data")
OPTIONS = ("root", "results_dir", "study", "analysis_dir", "publish_sources")


class LlmbenchPlugin(BasePlugin[LlmbenchConfig]):
    """The mkdocs plugin `llmbench` (see `config.LlmbenchConfig` for its options).

    A build loads the site data at most once, and only when something must be rendered:
    rendered pages and directives are cached under .llmbench/ by the keys of their inputs
    (`inputs.Fingerprint`), so a warm build re-renders only what changed.
    """

    supports_multiple_instances = False

    def __init__(self):
        self._data = None
        self._makers: dict | None = None
        self.root: Path | None = None
        self.generated: dict[str, object] = {}  # src_uri -> function(ctx) -> markdown
        self.stashes: dict[str, RawStash] = {}
        self.analysis_pages: list[tuple[str, str]] = []
        self.inputs: Fingerprint | None = None
        self.cache = PageCache(None)
        self.outline: layout.Outline | None = None
        self.charts = ChartStore()
        self._awaiting: list = []  # pages whose HTML holds charts still being drawn
        self._unsaved: list[tuple[str, str, dict[str, str]]] = []  # cache entries waiting for charts
        self._ahead: dict[str, tuple[str, dict[str, str]]] = {}  # key -> (markdown, raw) rendered early
        self._changed = False  # the inputs changed since the last build (the outline was not cached)

    @property
    def data(self):
        """The site data (`data.SiteData`), loaded on first use.

        Raises:
            PluginError: Contributor content is wrong (the message names the file and key).
        """
        if self._data is None:
            from .data import load_site_data

            try:
                self._data = load_site_data(self.root, self.root / self.config.results_dir,
                                            self.root / self.config.study, self.config.publish_sources)
            except ContentError as exc:
                raise PluginError(f"llmbench: {exc}") from None
        return self._data

    def on_config(self, config):
        """Fingerprint the inputs, lay the site out, add the assets, expand the nav's sections.

        Args:
            config: mkdocs' configuration.

        Returns:
            The configuration, changed.

        Raises:
            PluginError: Contributor content is wrong (the message names the file and key).
        """
        base = Path(config.config_file_path or ".").resolve().parent
        self.root = (base / self.config.root).resolve() if self.config.root else base
        state = self.root / ".llmbench"
        self.charts = ChartStore(state / "charts", workers=chart_workers())
        self._awaiting, self._unsaved, self._ahead, self._changed = [], [], {}, False
        self.cache = PageCache(state / "pages")
        self.stashes = {}
        self._flags = None
        self.inputs = fingerprint(self.root, self.root / self.config.results_dir, self.root / self.config.study,
                                  {name: self.config[name] for name in OPTIONS})
        self.outline = self._outline()
        for name in ASSETS:
            target = config.extra_css if name.endswith(".css") else config.extra_javascript
            if f"{ASSET_DIR}/{name}" not in [str(x) for x in target]:
                target.append(f"{ASSET_DIR}/{name}")
        self.analysis_pages = layout.analysis_files(self.root / self.config.analysis_dir)
        if config.nav:
            config.nav = layout.expand_nav(config.nav, self.outline, self.analysis_pages)
        return config

    def _outline(self) -> layout.Outline:
        key = PageCache.key("outline", self.inputs.everything)
        found = self.cache.get(key)
        if found is not None:
            try:
                return layout.Outline.from_json(json.loads(found[0]))
            except (KeyError, TypeError, ValueError):
                pass
        # Inputs changed since the last build: pages will be rendered, and charts drawn.
        self._changed = True
        self.charts.prepare()
        from .generated import outline_of

        outline = outline_of(self.data)
        self.cache.put(key, json.dumps(outline.to_json()), {})
        return outline

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

        for uri in self.outline.pages:
            add(uri, lambda ctx, uri=uri: self._maker(uri)(ctx))
        for uri, content in self.outline.downloads.items():
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
            def analysis_index(ctx):
                from .pages import analysis_index

                return analysis_index([(u, t) for u, t in self.analysis_pages if u != "analysis/index.md"], ctx)

            add("analysis/index.md", analysis_index)
        if self._changed and self.charts.workers:
            self._render_ahead(files)
        return files

    def _render_ahead(self, files: Files) -> None:
        """Render now what is not cached, so that chart workers draw while mkdocs converts pages.

        In its turn, a page takes what was rendered here (`_cached`); one that failed here is
        rendered again then, and reports its error in the usual place.
        """
        from mkdocs.utils.meta import get_data

        from .markers import scan

        def ahead(key: str, uri: str, shown: str, make) -> None:
            if key in self._ahead or self.cache.has(key):
                return
            stash = RawStash(f"lbraw{secrets.token_hex(12)}a")
            try:
                markdown = make(self._context(uri, stash, shown))
            except Exception:  # noqa: BLE001 - reported when the page is rendered in its turn
                return
            self._ahead[key] = (markdown, dict(stash.items))

        for uri, make in self.generated.items():
            ahead(self._page_key(uri), uri, posixpath.join("docs", uri), make)
        for file in files.documentation_pages():
            uri = file.src_uri
            if uri in self.generated:
                continue
            try:
                markdown = get_data(file.content_string)[0]
                spans = scan(markdown).spans if "live:" in markdown else []
            except (OSError, ValueError, ContentError):
                continue
            for span in spans:
                d = span.directive
                if d.name == "chart":  # the directives that draw; the others render fast in their turn
                    from .directives import render

                    ahead(self._directive_key(uri, d), uri, self._shown_file(file),
                          lambda ctx, d=d: render(d, ctx))

    def _maker(self, uri: str):
        if self._makers is None:
            from .generated import generated_pages

            self._makers = generated_pages(self.data)
        return self._makers[uri]

    def _context(self, uri: str, stash: RawStash, shown: str) -> Context:
        if self._flags is None:
            from .context import default_flags

            self._flags = (default_flags(),)
        return Context(self.data, SiteLinks(uri), raw=stash, flags=self._flags[0], html=True, path=shown,
                       charts=self.charts)

    def _page_key(self, uri: str) -> str:
        """The key of a generated page's inputs: a solution page's own, or everything for the others."""
        if uri.startswith("solutions/") and uri.count("/") == 2:
            model, challenge = uri[len("solutions/"):-len(".md")].split("/")
            return PageCache.key("page", uri, self.inputs.solution(model, challenge))
        if uri == "analysis/index.md":
            return PageCache.key("page", uri, self.inputs.everything, repr(self.analysis_pages))
        return PageCache.key("page", uri, self.inputs.everything)

    def _cached(self, key: str, stash: RawStash, make) -> str:
        """What make() renders, from the cache when its key is there (its raw HTML re-stashed)."""
        found = self.cache.get(key)
        if found is not None:
            return stash.adopt(*found)
        before = len(stash.items)
        early = self._ahead.pop(key, None)
        markdown = stash.adopt(*early) if early is not None else make()
        raw = dict(list(stash.items.items())[before:])
        if any(self.charts.pending(html) for html in raw.values()):
            self._unsaved.append((key, markdown, raw))  # stored once its charts are drawn (on_env)
        else:
            self.cache.put(key, markdown, raw)
        return markdown

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
        stash = self.stashes[uri] = RawStash(f"lbraw{secrets.token_hex(12)}{len(self.stashes)}")
        shown = self._shown(page)
        if uri in self.generated:
            layout.page_meta(page.meta, uri)
            # generated pages are never scanned for directives
            return self._cached(self._page_key(uri), stash,
                                lambda: self.generated[uri](self._context(uri, stash, shown)))
        offset = _front_matter_lines(page.file, markdown)
        if uri.startswith("analysis/"):
            for line, sentence in unbacked_results(markdown):
                # a warning: `mkdocs build --strict` fails, naming the sentence
                log.warning(f"llmbench: {shown}:{line + offset}: this sentence states a result that no live "
                            f"directive backs: \"{sentence[:200]}\". Put the figure in a live directive "
                            "(<!-- live: value ... -->) or say who reported it, with the source.")

        def render_one(d: Directive) -> str:
            key = self._directive_key(uri, d)

            def make() -> str:
                from .directives import render

                return render(d, self._context(uri, stash, shown))

            return self._cached(key, stash, make)

        try:
            return replace(markdown, render_one, shown, offset)
        except ContentError as exc:
            raise PluginError(f"llmbench: {exc}") from None

    def _directive_key(self, uri: str, d: Directive) -> str:
        """The key of a directive's inputs on a page."""
        # A directive's output depends on the data, the page (links are relative to it)
        # and the directive; never on where it sits in the page's text.
        return PageCache.key("directive", uri, self.inputs.everything, d.name, repr(sorted(d.args.items())),
                             str(d.inline))

    def _shown(self, page) -> str:
        """The page's file as error messages name it."""
        return self._shown_file(page.file)

    def _shown_file(self, file) -> str:
        """A file as error messages name it."""
        shown = posixpath.join("docs", file.src_uri)
        abs_path = file.abs_src_path
        if abs_path:
            try:
                shown = Path(abs_path).resolve().relative_to(self.root).as_posix()
            except ValueError:
                shown = abs_path
        return shown

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
        if self.charts.pending(html):
            self._awaiting.append(page)  # its charts go in on_env (a chart holds no glyph legend needs)
        return html + page_legend(html, url, page.file.src_uri)

    def on_env(self, env, *, config, files):
        """Put the charts drawn in the background into the pages, and store the entries that wait for them.

        Every page has been converted by now, and no page has been indexed for search or
        written yet.

        Args:
            env: The theme's Jinja environment.
            config: mkdocs' configuration.
            files: The site's files.

        Returns:
            The environment, unchanged.
        """
        self.charts.finish()
        for page in self._awaiting:
            page.content = self.charts.resolve(page.content)
        for key, markdown, raw in self._unsaved:
            self.cache.put(key, self.charts.resolve(markdown),
                           {token: self.charts.resolve(html) for token, html in raw.items()})
        self._awaiting, self._unsaved, self._ahead = [], [], {}
        return env

    def on_build_error(self, *, error) -> None:
        """Stop drawing charts for a build that failed.

        Args:
            error: What failed the build.
        """
        self.charts.cancel()
        self._awaiting, self._unsaved, self._ahead = [], [], {}

    def on_post_build(self, *, config) -> None:
        """Drop cached pages this build did not use, and say how much was reused.

        Args:
            config: mkdocs' configuration.
        """
        self.cache.prune()
        log.info(f"llmbench: {self.cache.hits} rendered pages and directives reused, {self.cache.misses} rendered"
                 + ("; the results were not loaded" if self._data is None else ""))

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
