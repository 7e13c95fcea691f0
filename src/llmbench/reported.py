"""Figures a solution claims about itself (in its JSON or Markdown files): shown as
*reported*, next to what llmbench reproduced. Files are only parsed, never executed."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .challenge import Challenge
from .phases.own_tests import analysable_files
from .schema import Reported

MAX_BYTES = 1024 * 1024
NUMBER = r"([-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _walk_json(data, aliases: dict[str, str], found: dict[str, float], depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            metric = aliases.get(str(key).lower())
            number = _number(value)
            if metric and number is not None and metric not in found:
                found[metric] = number
            _walk_json(value, aliases, found, depth + 1)
    elif isinstance(data, list):
        for item in data[:1000]:
            _walk_json(item, aliases, found, depth + 1)


def _scan_text(text: str, aliases: dict[str, str], found: dict[str, float]) -> None:
    for alias, metric in aliases.items():
        if metric in found:
            continue
        pattern = re.compile(r"(?i)(?<![\w])" + re.escape(alias).replace(r"\ ", r"[\s_]") + r"(?![\w])[^\d\n+-]{0,30}?" + NUMBER)
        match = pattern.search(text)
        if match:
            try:
                value = float(match.group(1).replace(",", ""))
            except ValueError:
                continue
            if math.isfinite(value):
                found[metric] = value


def extract_reported(folder: Path, challenge: Challenge) -> dict[str, Reported]:
    """metric -> Reported, from the first file (sorted: JSON first, then Markdown/text) naming it."""
    aliases = {a.lower(): metric for metric, names in challenge.reported_aliases.items() for a in (metric, *names)}
    if not aliases:
        return {}
    out: dict[str, Reported] = {}
    files = [f for f in analysable_files(folder) if f.suffix.lower() in (".json", ".md", ".txt")]
    files.sort(key=lambda f: (f.suffix.lower() != ".json", f.as_posix()))
    for rel in files:
        path = folder / rel
        if path.stat().st_size > MAX_BYTES:
            continue
        found: dict[str, float] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if rel.suffix.lower() == ".json":
            try:
                _walk_json(json.loads(text), aliases, found)
            except (ValueError, RecursionError):
                continue
        else:
            _scan_text(text, aliases, found)
        for metric, value in found.items():
            if metric not in out:
                spec = challenge.metric(metric)
                out[metric] = Reported(value=value, unit=spec.unit if spec else "", source=rel.as_posix())
    return out
