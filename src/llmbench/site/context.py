"""The context every renderer gets: the site data, where links point, how raw HTML travels.

One Context is made per page (links are relative to it); the objects it carries that live
longer (the chart store) belong to whoever builds: the mkdocs plugin or `llmbench refresh`.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..errors import ContentError
from .cache import ChartStore
from .markers import Directive

if TYPE_CHECKING:  # the data module imports pydantic and the schema: not needed to make a Context
    from .data import SiteData


def default_flags() -> Callable | None:
    """The grade-versus-evidence flag rules, when llmbench.evidence is installed.

    Returns:
        `llmbench.evidence.flags(grade, result)`, or None when that module is absent.
    """
    if importlib.util.find_spec("llmbench.evidence") is None:
        return None
    from .. import evidence

    return getattr(evidence, "flags", None)


def _identity(html: str) -> str:
    return html


@dataclass
class Context:
    """What a renderer may read besides the directive: data, links, and how to emit HTML.

    Attributes:
        data: Everything the site shows, loaded once per build.
        links: Where links point: `SiteLinks` (relative, in the site) or `AbsoluteLinks` (GitHub).
        raw: Carries raw HTML through markdown conversion (the plugin's placeholder stash);
            returns the text to put in the markdown.
        flags: `flags(grade, result)` -> the flags a grade raises, or None when unavailable.
        html: False for plain markdown read on GitHub (no classes; charts become links).
        path: The page's file as shown in error messages.
        charts: Finished chart SVGs, shared by every page of a build.
    """

    data: SiteData
    links: object
    raw: Callable[[str], str] = _identity
    flags: Callable | None = None
    html: bool = True
    path: str = "<text>"
    charts: ChartStore = field(default_factory=ChartStore)

    @property
    def inline_svg(self) -> bool:
        """True when charts can be drawn inline (the site); False on GitHub, which strips SVG."""
        return not getattr(self.links, "absolute", False)

    def fail(self, d: Directive, message: str) -> ContentError:
        """The error for a contributor's mistake in directive d, naming the file and line.

        Args:
            d: The directive at fault.
            message: What is wrong and the valid choices.

        Returns:
            A ContentError to raise: `path:line: live directive 'NAME': message`.
        """
        return ContentError(self.path, f"live directive '{d.name}': {message}", d.line)
