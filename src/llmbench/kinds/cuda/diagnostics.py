"""Compiler output made safe to record: dependency files parsed, diagnostics located outside the
solution withheld, machine paths made relative, the first errors picked out."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .sources import inside

MAX_ERROR_LINES = 12
SYSTEM_HEADER_ROOTS = ("/usr/include", "/usr/lib/gcc", "/usr/local/include", "/usr/lib/llvm")
WITHHELD = "compiler output withheld: the build read files outside the solution"


_DIAG_HEAD = re.compile(r"^(?P<path>[^\s:()][^:()]*?)(?:\((?P<l1>\d+)\)|:(?P<l2>\d+)(?::\d+)?):\s")


def allowed_dep(path: str, copy: Path, toolkit: Path | None) -> bool:
    """Whether a build may read this file: inside the solution's copy, or under a system or toolkit header root."""
    if inside(path, copy):
        return True
    real = os.path.realpath(path)
    roots = list(SYSTEM_HEADER_ROOTS) + ([str(toolkit)] if toolkit else [])
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def parse_depfile(text: str) -> list[str]:
    """Prerequisites of a make-style dependency file (nvcc -MD)."""
    body = text.replace("\\\n", " ").replace("\\ ", "\0")  # escaped spaces stay inside names
    _, _, deps = body.partition(" : ") if " : " in body else body.partition(": ")
    return [d.replace("\0", " ") for d in deps.split() if d]


def filter_diagnostics(text: str, copy: Path, toolkit: Path | None) -> str:
    """Drop diagnostics (and their quoted source lines) located in files outside the copy
    and the system/toolkit headers: they could quote a file the solution should not read."""
    out, keep = [], True
    for line in text.splitlines():
        m = _DIAG_HEAD.match(line)
        if m:
            path = m.group("path")
            full = path if os.path.isabs(path) else str(copy / path)
            keep = allowed_dep(full, copy, toolkit)
            if not keep:
                out.append("[a diagnostic located outside the solution was withheld]")
                continue
        if keep:
            out.append(line)
    return "\n".join(out)


def relativise(text: str, copy: Path) -> str:
    """The text with the copy's path (as given and resolved) made relative, so no machine path is recorded."""
    for prefix in {str(copy), os.path.realpath(copy)}:
        text = text.replace(prefix.rstrip("/") + "/", "").replace(prefix, ".")
    return text


def first_errors(text: str, limit: int = MAX_ERROR_LINES) -> str:
    """The first error diagnostics with their context lines (at most `limit` lines)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if re.search(r"\berror\b|fatal", ln, re.IGNORECASE)), None)
    if start is None:
        return "\n".join(lines[-limit:])
    return "\n".join(lines[start:start + limit])
