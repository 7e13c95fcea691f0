"""Progress of `llmbench run` a person can follow: N/M done, elapsed, time left, runs in progress.

On a terminal: a live bar plus one line per run in progress with its own elapsed time.
Elsewhere (CI logs, pipes): plain lines, one per finished run, and every `interval` seconds
a line naming the runs still in progress, so a long own test is never silent.
"""
from __future__ import annotations

import os
import sys
import threading
import time

DEFAULT_INTERVAL_S = 30.0


def clock(seconds: float) -> str:
    """1:02:03 / 4:05."""
    s = int(max(0, seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PlainProgress:
    """Plain-line progress (stdout not a terminal)."""

    def __init__(self, total: int, out=None, interval_s: float | None = None, now=time.monotonic):
        self.total, self.out, self.now = total, out, now
        env = os.environ.get("LLMBENCH_PROGRESS_INTERVAL")
        self.interval_s = interval_s if interval_s is not None else float(env) if env else DEFAULT_INTERVAL_S
        self.start = now()
        self.done = 0
        self.active: dict[str, float] = {}  # label -> start
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    def counts(self) -> str:
        """'3/10 done, 0:42 elapsed, ~1:24 left'."""
        elapsed = self.now() - self.start
        text = f"{self.done}/{self.total} done, {clock(elapsed)} elapsed"
        if 0 < self.done < self.total:
            text += f", ~{clock(elapsed / self.done * (self.total - self.done))} left"
        return text

    def running(self) -> str:
        """The runs in progress with their elapsed time, oldest first: ``"a/x (42 s), b/y (3 s)"``."""
        now = self.now()
        return ", ".join(f"{label} ({now - t:.0f} s)" for label, t in sorted(self.active.items(), key=lambda kv: kv[1]))

    def started(self, label: str) -> None:
        """Record that a run started."""
        with self.lock:
            self.active[label] = self.now()

    def finished(self, label: str, line: str) -> None:
        """Record that a run finished and print its line with the counts.

        Args:
            label: The run's label, as given to `started`.
            line: What to print about it.
        """
        with self.lock:
            self.active.pop(label, None)
            self.done += 1
            self._print(f"[{self.counts()}] {line}")

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self.lock:
                if self.active:
                    self._print(f"[{self.counts()}] running: {self.running()}")

    def __enter__(self):
        self._thread = threading.Thread(target=self._beat, name="llmbench-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return False


class LiveProgress:
    """A rich live display: one bar for the plan, below it one line per run in progress."""

    def __init__(self, total: int, console):
        from rich.console import Group
        from rich.live import Live
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = console
        self.bar = Progress(TextColumn("running"), BarColumn(), MofNCompleteColumn(), TextColumn("done,"),
                            TimeElapsedColumn(), TextColumn("elapsed, ~"), TimeRemainingColumn(), TextColumn("left"),
                            console=console)
        self.runs = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)
        self.main = self.bar.add_task("running", total=total)
        self.live = Live(Group(self.bar, self.runs), console=console, refresh_per_second=4)
        self.tasks: dict[str, int] = {}
        self.lock = threading.Lock()

    def started(self, label: str) -> None:
        """Show a line with its own timer for a run that started."""
        from rich.markup import escape

        with self.lock:
            self.tasks[label] = self.runs.add_task(escape(label), total=None)

    def finished(self, label: str, line: str) -> None:
        """Drop the run's line, print its result line above the display and advance the bar.

        Args:
            label: The run's label, as given to `started`.
            line: What to print about it (rich markup).
        """
        with self.lock:
            task = self.tasks.pop(label, None)
            if task is not None:
                self.runs.remove_task(task)
            self.console.print(line, soft_wrap=True)
            self.bar.advance(self.main)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)
