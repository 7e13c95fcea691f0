"""Where a rendered link points: relative .md paths inside the site, absolute URLs on GitHub.

Targets are page keys such as "challenges/kv", "models/glm5", "solutions/glm5/kv" or ""
(home), and download paths such as "downloads/results.csv".
"""
from __future__ import annotations

import posixpath
from urllib.parse import quote


def page_key(kind: str, *parts: str) -> str:
    return "/".join((kind, *parts))


class SiteLinks:
    """Links from one page of the mkdocs build: relative paths to .md sources that mkdocs checks and rewrites."""

    absolute = False

    def __init__(self, current_src_uri: str):
        self.base = posixpath.dirname(current_src_uri)

    def _rel(self, target: str) -> str:
        return quote(posixpath.relpath(target, self.base or "."))

    def page(self, key: str, anchor: str = "") -> str:
        target = f"{key}.md" if key else "index.md"
        if key in ("challenges", "models", "analysis"):
            target = f"{key}/index.md"
        return self._rel(target) + (f"#{anchor}" if anchor else "")

    def file(self, path: str) -> str:
        return self._rel(path)


class AbsoluteLinks:
    """Links to the published site, for files read on GitHub (README.md)."""

    absolute = True

    def __init__(self, site_url: str, use_directory_urls: bool = True):
        self.site_url = site_url.rstrip("/") + "/"
        self.use_directory_urls = use_directory_urls

    def page(self, key: str, anchor: str = "") -> str:
        if not key:
            path = ""
        elif self.use_directory_urls:
            path = f"{key}/"
        else:
            path = f"{key}/index.html" if key in ("challenges", "models", "analysis") else f"{key}.html"
        return self.site_url + quote(path) + (f"#{anchor}" if anchor else "")

    def file(self, path: str) -> str:
        return self.site_url + quote(path)
