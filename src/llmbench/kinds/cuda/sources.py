"""Reading a solution's CUDA sources: comments stripped, main() and entry definitions found,
Markdown saved as .cu recognised, source files listed."""
from __future__ import annotations

import os
import re
from pathlib import Path


_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
_MAIN = re.compile(r"(?<![\w.:>])main\s*\(")
_PREPROCESSOR_WORDS = {"include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif", "pragma",
                       "error", "warning", "line"}


def strip_comments(text: str) -> str:
    """Source without comments; string and char literals emptied (kept as "" / '')."""
    def repl(m: re.Match) -> str:
        s = m.group(0)
        if s.startswith("//"):
            return ""
        if s.startswith("/*"):
            return "\n" * s.count("\n")
        return s[0] * 2
    return _COMMENT_OR_STRING.sub(repl, text)


def has_main(text: str) -> bool:
    """Whether the CUDA source defines ``main`` (comments ignored): an own program rather than a library."""
    return bool(_MAIN.search(strip_comments(text)))


def defines_entry(text: str, entry: str) -> bool:
    """Whether the source defines a function called `entry` (a body follows its parameters)."""
    pattern = re.compile(r"\b" + re.escape(entry) + r"\s*\([^;{}]*\)\s*\{")
    return bool(pattern.search(strip_comments(text)))


def looks_like_markdown(text: str) -> bool:
    """A Markdown document saved as .cu: headings, fences or lists before any code."""
    lines = [ln for ln in text.splitlines() if ln.strip()][:40]
    if not lines:
        return False
    fences = sum(1 for ln in lines if ln.lstrip().startswith("```"))
    first = lines[0].lstrip()
    m = re.match(r"#{1,6}\s+(\w+)", first)
    heading = bool(m) and m.group(1) not in _PREPROCESSOR_WORDS
    return heading or fences >= 1


def inside(path: str, root: Path) -> bool:
    """Whether `path`, links resolved, is `root` or lies under it."""
    real = os.path.realpath(path)
    root_s = os.path.realpath(root)
    return real == root_s or real.startswith(root_s.rstrip("/") + "/")


def source_files(folder: Path, suffixes=(".cu", ".cuh")) -> list[Path]:
    """CUDA sources of a solution (relative paths), skipping our build folder and hidden ones.
    Links that lead outside the folder are listed too (compile_phase refuses them)."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if p.suffix in suffixes and (p.is_file() or p.is_symlink()):
            out.append(rel)
    return out


def read_text(path: Path) -> str:
    """A file's text (undecodable bytes replaced), or ``""`` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
