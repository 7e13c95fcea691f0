"""What a build keeps between builds: finished chart SVGs and rendered markdown.

The build owns these stores (the plugin makes them per build, under the project's state
folder .llmbench/); a warm rebuild then neither loads the results nor imports matplotlib,
and re-renders only what its inputs' keys (`inputs.Fingerprint`) say changed. A store
without a folder keeps nothing between builds.

A cold build draws its charts in worker processes while it goes on converting pages: a
`ChartStore` with workers hands out a placeholder per chart, and `ChartStore.resolve`
swaps the finished SVGs in once every page is rendered.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import secrets
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path

from ..store import write_atomic
from .charts import Bar, bar_chart_svg

CHART_FORMAT = "2"  # bump when the drawing code changes: older SVGs on disk are then never read
MAX_CHART_WORKERS = 4  # a site has tens of charts; more workers would mostly import matplotlib


def chart_workers() -> int:
    """How many processes may draw charts beside the build: the cores it may use, less its own.

    Returns:
        0 on a single core (charts are then drawn in the build's own process).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, MAX_CHART_WORKERS))


class _ChartWorker:
    """One process that draws charts: `python -m llmbench.site.chartworker`, JSON lines both ways.

    Plain values go in and SVG text comes out (no pickles); it runs only our drawing code.
    A chart it fails to draw, or that a dead worker leaves behind, resolves to None: the
    store then draws that chart itself (and raises what drawing raises).
    """

    def __init__(self):
        import subprocess
        import sys
        import threading

        env = dict(os.environ)
        here = str(Path(__file__).resolve().parents[2])  # the folder holding this llmbench package
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # -P: the build's working folder is never put on the worker's import path
        self.proc = subprocess.Popen([sys.executable, "-P", "-m", "llmbench.site.chartworker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     encoding="ascii", env=env)
        self.lock = threading.Lock()
        self.futures: dict[int, Future] = {}
        self.sent = 0
        self.alive = True
        threading.Thread(target=self._read, name="llmbench-charts", daemon=True).start()

    def submit(self, job: dict) -> Future | None:
        """Send one job (`chartworker`'s protocol, without its id); None when the worker is gone."""
        future: Future = Future()
        with self.lock:
            if not self.alive:
                return None
            request = json.dumps({"id": self.sent, **job})
            self.futures[self.sent] = future
            self.sent += 1
            try:
                self.proc.stdin.write(request + "\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):
                self.alive = False
                return None
        return future

    def _read(self) -> None:
        from concurrent.futures import InvalidStateError

        for line in self.proc.stdout:
            try:
                reply = json.loads(line)
                future = self.futures.pop(reply["id"])
                svg = reply.get("svg")
            except (ValueError, KeyError, TypeError):
                break  # not our protocol: treat the worker as gone
            try:
                future.set_result(svg if isinstance(svg, str) else None)
            except InvalidStateError:  # cancelled: the build failed
                pass
        with self.lock:
            self.alive = False
            left, self.futures = list(self.futures.values()), {}
        for future in left:
            try:
                future.set_result(None)
            except InvalidStateError:
                pass

    def close(self) -> None:
        """End the worker: it exits at the end of its input (killed if it does not within 5 s)."""
        import subprocess

        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Workers live as long as the process (`mkdocs serve`, a test session), so each imports
# matplotlib once; they are started on the first chart a build must draw.
_WORKERS: list[_ChartWorker] = []
_gave_up = False


def _close_workers() -> None:
    for worker in _WORKERS:
        worker.close()
    _WORKERS.clear()


atexit.register(_close_workers)


def _start(workers: int) -> None:
    """Have `workers` processes ready; none after one has died (the build then draws charts itself)."""
    global _gave_up
    if any(not w.alive for w in _WORKERS):
        _gave_up = True  # a worker that cannot run would die again for every chart
        _close_workers()
    while not _gave_up and len(_WORKERS) < workers:
        try:
            _WORKERS.append(_ChartWorker())
        except OSError:  # no process can be started
            _gave_up = True


def _job(args: tuple) -> dict:
    """The worker's request for a chart's or a highlighting's arguments."""
    if args[0] == _HIGHLIGHT:
        return {"highlight": list(args[1:])}
    title, bars, unit, better, reference, scale = args
    return {"args": [title, [[b.label, b.value, b.note] for b in bars], unit, better, reference, scale]}


def _submit(args: tuple, workers: int) -> Future | None:
    """Hand a job to the least busy of `workers` background processes; None when none can take it."""
    _start(workers)
    job = _job(args)
    for worker in sorted(_WORKERS, key=lambda w: len(w.futures)):
        future = worker.submit(job)
        if future is not None:
            return future
    return None


@lru_cache(maxsize=1)
def _matplotlib_version() -> str:
    from importlib.metadata import version

    return version("matplotlib")


def write_cached(path: Path, text: str) -> None:
    """Write a cache file atomically (`llmbench.store.write_atomic`), without fsync.

    A cache entry lost in a crash is only drawn or rendered again, and readers check
    that an entry is whole; syncing each of a build's hundred files would cost more
    than rendering some of them.

    Args:
        path: The file.
        text: Its content.

    Raises:
        OSError: The folder cannot be written.
    """
    write_atomic(path, text, durable=False)


_HIGHLIGHT = "\0highlight"  # marks highlighting's arguments apart from a chart's


class ChartStore:
    """Bar charts by their arguments: drawn once, then read from memory or from disk.

    Args:
        folder: Where finished SVGs are kept between builds; None keeps them in memory only.
        workers: Processes that may draw charts in the background; 0 draws each in this
            process when asked. With workers, `svg` may return a placeholder that `resolve`
            turns into the SVG.
    """

    def __init__(self, folder: Path | None = None, workers: int = 0):
        self.folder = folder
        self.workers = workers
        self._svgs: dict[tuple, str] = {}
        # Placeholders hold a secret of this store, so no text of a page can imitate one.
        self.prefix = f"lbchart{secrets.token_hex(12)}x"
        self._tokens: dict[tuple, str] = {}
        self._drawing: dict[str, tuple[tuple, Future | None]] = {}  # token -> (args, its drawing)

    def prepare(self) -> None:
        """Start the workers now, so that they are ready when the first chart must be drawn."""
        if self.workers:
            _start(self.workers)

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
            The SVG, identical to a fresh drawing; or, in a store with workers, a placeholder
            for it while it is being drawn (see `resolve`).
        """
        args = (title, tuple(bars), unit, better, reference, scale)
        if args in self._svgs:
            return self._svgs[args]
        if args in self._tokens:
            return self._tokens[args]
        return self._made(args, self._read(args))

    def highlight(self, source: str, filename: str) -> str:
        """Source code as `text.highlight` renders it (the other slow, pure job of a cold build).

        Args:
            source: Untrusted source text.
            filename: Its file name, which picks the lexer.

        Returns:
            The HTML; or, in a store with workers, a placeholder for it (see `resolve`).
        """
        args = (_HIGHLIGHT, source, filename)
        if args in self._svgs:
            return self._svgs[args]
        if args in self._tokens:
            return self._tokens[args]
        return self._made(args, None)

    def _made(self, args: tuple, found: str | None) -> str:
        """What was found on disk, or a placeholder while a worker makes it, or made here."""
        if found is None and self.workers:
            future = _submit(args, self.workers)
            if future is not None:
                token = self._tokens[args] = f"{self.prefix}{len(self._tokens):05d}x"
                self._drawing[token] = (args, future)
                return token
        if found is None:
            found = self._draw(args)
        self._svgs[args] = found
        return found

    def pending(self, text: str) -> bool:
        """Whether text holds placeholders of charts still to be resolved.

        Args:
            text: Markdown or HTML.

        Returns:
            True when `resolve` would change it.
        """
        return bool(self._drawing) and self.prefix in text

    def resolve(self, text: str) -> str:
        """Text with each chart placeholder replaced by its SVG (waiting for the drawing).

        Args:
            text: Markdown or HTML that may hold placeholders `svg` returned.

        Returns:
            The text with SVGs in their place.

        Raises:
            Exception: What drawing a chart raised.
        """
        if not self.pending(text):
            return text
        for token in list(self._drawing):
            if token in text:
                text = text.replace(token, self._finish(token))
        return text

    def finish(self) -> None:
        """Wait for every chart being drawn and keep it (in memory, and on disk with a folder)."""
        for token in list(self._drawing):
            self._finish(token)

    def cancel(self) -> None:
        """Stop drawing the charts nobody will wait for (the build failed)."""
        for _, future in self._drawing.values():
            if future is not None:
                future.cancel()
        self._drawing.clear()
        self._tokens.clear()

    def _finish(self, token: str) -> str:
        args, future = self._drawing[token]
        if args not in self._svgs:
            svg = None
            if future is not None and not future.cancelled():
                svg = future.result()
            self._svgs[args] = self._draw(args) if svg is None else svg
            self._write(args, self._svgs[args])
        return self._svgs[args]

    def _draw(self, args: tuple) -> str:
        if args[0] == _HIGHLIGHT:
            from .text import highlight

            return highlight(*args[1:])
        title, bars, unit, better, reference, scale = args
        svg = bar_chart_svg(title, list(bars), unit, better, reference, scale)
        self._write(args, svg)
        return svg

    def _read(self, args: tuple) -> str | None:
        path = self._path(args)
        if path is None:
            return None
        try:
            svg = path.read_text(encoding="utf-8")
        except OSError:
            return None
        return svg if svg.endswith("</svg>") else None  # a file cut short is drawn again

    def _write(self, args: tuple, svg: str) -> None:
        path = self._path(args)
        if path is not None:
            try:
                write_cached(path, svg)
            except OSError:
                pass  # a read-only checkout still builds

    def _path(self, args: tuple) -> Path | None:
        if self.folder is None or args[0] == _HIGHLIGHT:  # highlighting is kept in the page cache
            return None
        key = hashlib.sha256(f"{CHART_FORMAT}|{_matplotlib_version()}|{args!r}".encode()).hexdigest()[:32]
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

    def has(self, key: str) -> bool:
        """Whether an entry is stored under key (not counted as a hit or a miss).

        Args:
            key: From `key`.

        Returns:
            True when its file exists.
        """
        return self.folder is not None and (self.folder / f"{key}.json").is_file()

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
            write_cached(self.folder / f"{key}.json", json.dumps({"markdown": markdown, "raw": raw}))
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
