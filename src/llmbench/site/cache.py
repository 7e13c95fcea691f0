"""What a build keeps between builds: finished chart SVGs and rendered markdown.

The build owns these stores (the plugin makes them per build, under the project's state
folder .llmbench/); a warm rebuild then neither loads the results nor imports matplotlib,
and re-renders only what its inputs' keys (`inputs.Fingerprint`) say changed. A store
without a folder keeps nothing between builds.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .charts import Bar, bar_chart_svg

CHART_FORMAT = "2"  # bump when the drawing code changes: older SVGs on disk are then never read


class ChartStore:
    """Bar charts by their arguments: drawn once, then read from memory or from disk.

    Args:
        folder: Where finished SVGs are kept between builds; None keeps them in memory only.
    """

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self._svgs: dict[tuple, str] = {}

    def svg(self, title: str, bars: list[Bar], unit: str = "", better: str = "none",
            reference: float | None = None, scale: str = "auto") -> str:
        """The chart `charts.bar_chart_svg` draws for these arguments.

        Args:
            title: The chart's title.
            bars: One bar per label (a value, or None and a note saying why it is missing).
            unit: The values' unit.
            better: "lower", "higher" or "none": shown on the axis.
            reference: The reference solution's value (a dashed line), or None.
            scale: "auto", "linear", "log" or "rate".

        Returns:
            The SVG, identical to a fresh drawing.
        """
        args = (title, tuple(bars), unit, better, reference, scale)
        if args in self._svgs:
            return self._svgs[args]
        path = self._path(args)
        svg = None
        if path is not None:
            try:
                svg = path.read_text(encoding="utf-8")
            except OSError:
                pass
        if svg is None:
            svg = bar_chart_svg(title, list(bars), unit, better, reference, scale)
            if path is not None:
                try:
                    from ..store import write_atomic

                    write_atomic(path, svg)
                except OSError:
                    pass  # a read-only checkout still builds
        self._svgs[args] = svg
        return svg

    def _path(self, args: tuple) -> Path | None:
        if self.folder is None:
            return None
        from importlib.metadata import version

        key = hashlib.sha256(f"{CHART_FORMAT}|{version('matplotlib')}|{args!r}".encode()).hexdigest()[:32]
        return self.folder / f"{key}.svg"


PAGE_FORMAT = "1"  # bump when what an entry holds changes


class PageCache:
    """Rendered markdown and the raw HTML it carries, by key, on disk between builds.

    An entry is what a renderer returned for one key: its markdown and the raw-HTML pieces
    (token -> HTML) its placeholders stand for. Entries a build did not use are removed by
    `prune`, so the folder holds one build's worth.

    Args:
        folder: Where entries are kept; None keeps nothing.
    """

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.used: set[str] = set()
        self.hits = self.misses = 0

    @staticmethod
    def key(*parts: str) -> str:
        """A key from its parts (input keys, page, directive and arguments).

        Args:
            *parts: Text parts; their order matters.

        Returns:
            A hex digest usable as a file name.
        """
        return hashlib.sha256("\0".join((PAGE_FORMAT, *parts)).encode("utf-8", "surrogateescape")).hexdigest()

    def get(self, key: str) -> tuple[str, dict[str, str]] | None:
        """The entry stored under key.

        Args:
            key: From `key`.

        Returns:
            (markdown, {token: raw HTML}), or None when there is none (or it is unreadable).
        """
        if self.folder is None:
            return None
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            found = (entry["markdown"], dict(entry["raw"]))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.used.add(key)
        self.hits += 1
        return found

    def put(self, key: str, markdown: str, raw: dict[str, str]) -> None:
        """Store an entry (a read-only checkout still builds: failures to write are ignored).

        Args:
            key: From `key`.
            markdown: The rendered markdown.
            raw: The raw-HTML pieces its placeholders stand for.
        """
        if self.folder is None:
            return
        self.used.add(key)
        try:
            from ..store import write_atomic

            write_atomic(self.folder / f"{key}.json", json.dumps({"markdown": markdown, "raw": raw}))
        except OSError:
            pass

    def prune(self) -> None:
        """Remove the entries this build did not use (their inputs changed since)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.glob("*.json"):
            if path.stem not in self.used:
                try:
                    os.unlink(path)
                except OSError:
                    pass
