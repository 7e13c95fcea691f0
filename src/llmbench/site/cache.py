"""What a build keeps: finished chart SVGs, in memory for one build and on disk between builds.

The build owns the store (the plugin makes one per build, pointing at .llmbench/charts/);
a warm rebuild then neither imports matplotlib nor draws anything. A store without a
folder keeps charts for one build only.
"""
from __future__ import annotations

import hashlib
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
