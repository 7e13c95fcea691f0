"""Figures a solution claims about itself (in its JSON, Markdown or text files): shown as
*reported*, next to what llmbench reproduced. Files are only parsed, never executed.

Every mention of a metric is a candidate, with its file, line and what labels it (the JSON
key path, the table row and column header, or the line and the heading above it). Labels
decide which one is the claim: a final, post-training or validation figure beats an
unlabelled one, and a pre-training, initial or baseline figure is the last choice. Among
equals, JSON comes first and, within a file, the later mention (a log's last evaluation).
Where the candidates disagree, all of them are kept, so a page can show each with its source.
A prompt (PROMPT.md, or any file named *prompt*) is what the model was asked, never a claim.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .challenge import Challenge
from .phases.discovery import analysable_files
from .schema import Reported, ReportedCandidate

MAX_BYTES = 1024 * 1024
MAX_CANDIDATES = 12
NUMBER = r"([-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)"
FINAL = re.compile(r"(?i)\b(final|post[- ]?training|after|trained|end|last|best)\b")
HELD_OUT = re.compile(r"(?i)\b(val|valid|validation|eval|evaluation|held[- ]?out|test)(?:_|\b)")
EARLY = re.compile(r"(?i)\b(pre[- ]?training|before|initial|init|baseline|untrained|start|random|"
                   r"step\s*0)\b|\bpre\b")
PROMPT_FILE = re.compile(r"(?i)prompt")
# Words between a name and a number that make the number a threshold, not a measurement.
THRESHOLD = re.compile(r"(?i)\b(under|below|above|over|than|target|goal|threshold|aim|less|more)\b|[<>]")


@dataclass
class _Found:
    metric: str
    value: float
    source: str
    line: int
    context: str
    score: int
    order: tuple


def label_score(label: str) -> int:
    """How strongly a label marks the figure as the final claim (higher is better)."""
    score = 0
    if FINAL.search(label):
        score += 2
    if HELD_OUT.search(label):
        score += 1
    if EARLY.search(label):
        score -= 3
    return score


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _parse(text: str) -> float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _alias_pattern(alias: str) -> re.Pattern:
    words = (re.escape(w) for w in re.split(r"[\s_]+", alias.strip()))
    return re.compile(r"(?i)(?<![\w])" + r"[\s_]".join(words) + r"(?![\w])")


def _json_candidates(text: str, aliases: dict[str, str]) -> list[tuple[str, float, int, str]]:
    """(metric, value, line, key path) for every numeric value under an alias key."""
    out: list[tuple[str, float, int, str]] = []

    def line_of(key: str) -> int:
        pos = text.find(f'"{key}"')
        return text.count("\n", 0, pos) + 1 if pos >= 0 else 0

    def walk(data, path: str, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(data, dict):
            for key, value in data.items():
                here = f"{path}.{key}" if path else str(key)
                metric = aliases.get(str(key).lower())
                number = _number(value)
                if metric and number is not None:
                    out.append((metric, number, line_of(str(key)), here))
                walk(value, here, depth + 1)
        elif isinstance(data, list):
            for item in data[:1000]:
                walk(item, path, depth + 1)

    walk(json.loads(text), "", 0)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip().strip("*").strip() for c in line.strip().strip("|").split("|")]


def _text_candidates(text: str, patterns: dict[str, re.Pattern], aliases: dict[str, str]):
    """(metric, value, line, label) from Markdown tables (row label + column header) and lines."""
    out = []
    lines = text.splitlines()
    header: list[str] | None = None
    heading = ""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("#") or (line.isupper() and len(line) > 3):
            heading = line
        if line.startswith("|"):
            cells = _cells(line)
            if header is None:
                header = cells
                continue
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            label = cells[0] if cells else ""
            for alias, pattern in patterns.items():
                if not pattern.search(label):
                    continue
                for j, cell in enumerate(cells[1:], start=1):
                    m = re.match(r"[~≈<>]?\s*" + NUMBER, cell)
                    value = _parse(m.group(1)) if m else None
                    if value is None:
                        continue
                    column = header[j] if header and j < len(header) else ""
                    out.append((aliases[alias], value, i + 1, f"{label} [{column}]".strip()))
                break
            continue
        header = None
        context = " ".join(lines[max(0, i - 3):i + 1]) + " " + heading
        for alias, pattern in patterns.items():
            for m in pattern.finditer(line):
                tail = re.match(r"([^\d\n+-]{0,30}?)" + NUMBER, line[m.end():])
                if tail is None or THRESHOLD.search(tail.group(1)):
                    continue
                value = _parse(tail.group(2))
                if value is not None:
                    out.append((aliases[alias], value, i + 1, line[:160] + " " + context[-200:]))
    return out


def extract_reported(folder: Path, challenge: Challenge) -> dict[str, Reported]:
    """metric -> Reported: the best-labelled claim, with every disagreeing candidate kept."""
    aliases = {a.lower(): metric for metric, names in challenge.reported_aliases.items() for a in (metric, *names)}
    if not aliases:
        return {}
    patterns = {a: _alias_pattern(a) for a in sorted(aliases, key=len, reverse=True)}
    files = [f for f in analysable_files(folder) if f.suffix.lower() in (".json", ".md", ".txt")
             and not PROMPT_FILE.search(f.name)]
    files.sort(key=lambda f: (f.suffix.lower() != ".json", f.as_posix()))
    found: list[_Found] = []
    for index, rel in enumerate(files):
        path = folder / rel
        if path.stat().st_size > MAX_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        try:
            if rel.suffix.lower() == ".json":
                items = _json_candidates(text, aliases)
            else:
                items = _text_candidates(text, patterns, aliases)
        except (ValueError, RecursionError):
            continue
        for metric, value, line, label in items:
            found.append(_Found(metric, value, rel.as_posix(), line, " ".join(label.split())[:200],
                                label_score(label), (index, -line)))
    out: dict[str, Reported] = {}
    for metric in dict.fromkeys(f.metric for f in found):
        mine = sorted((f for f in found if f.metric == metric), key=lambda f: (-f.score, f.order))
        best = mine[0]
        spec = challenge.metric(metric)
        seen, others = set(), []
        for f in mine:
            key = (f.value, f.source, f.line)
            if key not in seen:
                seen.add(key)
                others.append(ReportedCandidate(value=f.value, source=f.source, line=f.line, context=f.context))
        # Rounded copies of one figure (643.02 and 643.0208) agree; anything further apart does not.
        disagree = any(abs(c.value - best.value) > 1e-3 * abs(best.value) for c in others)
        out[metric] = Reported(value=best.value, unit=spec.unit if spec else "", source=best.source,
                               line=best.line, context=best.context,
                               candidates=others[:MAX_CANDIDATES] if disagree else [])
    return out
