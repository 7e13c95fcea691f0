"""Where a rendered link points: relative .md paths inside the site, absolute URLs on GitHub.

Targets are page keys such as "challenges/kv", "models/glm5", "solutions/glm5/kv" or ""
(home), and download paths such as "downloads/results.csv".
"""
from __future__ import annotations

import posixpath
from urllib.parse import quote


def page_key(kind: str, *parts: str) -> str:
    """A page key from its parts: page_key("solutions", "glm5", "kv") -> "solutions/glm5/kv".

    Args:
        kind: The first part (challenges, models, solutions).
        *parts: The rest.

    Returns:
        The key.
    """
    return "/".join((kind, *parts))


class SiteLinks:
    """Links from one page of the mkdocs build: relative paths to .md sources that mkdocs checks and rewrites.

    Args:
        current_src_uri: The page's src_uri; links are relative to it.
    """

    absolute = False

    def __init__(self, current_src_uri: str):
        self.base = posixpath.dirname(current_src_uri)

    def _rel(self, target: str) -> str:
        return quote(posixpath.relpath(target, self.base or "."))

    def page(self, key: str, anchor: str = "") -> str:
        """A link to a page of the site.

        Args:
            key: A page key ("challenges/kv", "models/glm5", "" for home; "challenges", "models",
                "analysis" for the section indexes).
            anchor: A heading's id on that page.

        Returns:
            A relative URL to the page's .md source.
        """
        target = f"{key}.md" if key else "index.md"
        if key in ("challenges", "models", "analysis"):
            target = f"{key}/index.md"
        return self._rel(target) + (f"#{anchor}" if anchor else "")

    def file(self, path: str) -> str:
        """A link to a file of the site (a download).

        Args:
            path: The file's path in the site ("downloads/results.csv").

        Returns:
            A relative URL.
        """
        return self._rel(path)


class AbsoluteLinks:
    """Links to the published site, for files read on GitHub (README.md).

    Args:
        site_url: The published site's address.
        use_directory_urls: mkdocs' use_directory_urls: page/ rather than page.html.
    """

    absolute = True

    def __init__(self, site_url: str, use_directory_urls: bool = True):
        self.site_url = site_url.rstrip("/") + "/"
        self.use_directory_urls = use_directory_urls

    def page(self, key: str, anchor: str = "") -> str:
        """A link to a page of the published site.

        Args:
            key: A page key (see `SiteLinks.page`).
            anchor: A heading's id on that page.

        Returns:
            An absolute URL.
        """
        if not key:
            path = ""
        elif self.use_directory_urls:
            path = f"{key}/"
        else:
            path = f"{key}/index.html" if key in ("challenges", "models", "analysis") else f"{key}.html"
        return self.site_url + quote(path) + (f"#{anchor}" if anchor else "")

    def file(self, path: str) -> str:
        """A link to a file of the published site.

        Args:
            path: The file's path in the site.

        Returns:
            An absolute URL.
        """
        return self.site_url + quote(path)
