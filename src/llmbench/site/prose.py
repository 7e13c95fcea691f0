"""Prose versus live figures: sentences of an analysis page that state a measured result no directive backs.

A figure in an analysis page must come from a live directive (`<!-- live: value ... -->`),
or be labelled as reported by someone else, with its source. This pure check finds the
sentences that state a result in words or numbers ("matched greedy decoding on every
case", "passed 70 of 120 cases") without either, so the build can name them.
"""
from __future__ import annotations

import re

from .markers import scan

# A claim about results: a share, a count with its denominator, or "every/all/none of the ..." cases or tests.
_FIGURE = re.compile(r"\b\d+(?:\.\d+)?\s?%|\b\d+ (?:of|out of) \d+\b|\b(?:every|all|each|none of the|no) "
                     r"(?:\w+ )?(?:case|cases|test|tests|input|inputs|shape|shapes|trap|traps)\b", re.I)
# ...stated as something that happened (past tense): a measurement, not a description of a test.
_OUTCOME = re.compile(r"(?<!\bis )(?<!\bare )(?<!\bbe )(?<!\bwas )\b(?:matched|passed|failed|avoided|fell|scored|reached|achieved|caught|missed|"
                      r"succeeded|produced)\b", re.I)
_LABELLED = re.compile(r"\breported\b|\baccording to\b|\bthe study (?:says|states|found|writes)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*(\[])")


def unbacked_results(markdown: str) -> list[tuple[int, str]]:
    """The sentences of an analysis page stating a result that no live directive backs.

    Args:
        markdown: The page's text.

    Returns:
        (line, sentence) for each such sentence.
    """
    found = scan(markdown)
    blanks = sorted([(a, b, False) for a, b in found.code]
                    + [(sp.start, sp.end, True) for sp in found.spans if not sp.directive.inline]
                    + [(sp.start, sp.end, "inline") for sp in found.spans if sp.directive.inline])
    # Keep offsets: code and block directives become spaces, inline directives a marker word.
    chars = list(markdown)
    for start, end, kind in blanks:
        fill = "LIVEVALUE" if kind == "inline" else ""
        for i in range(start, end):
            chars[i] = " " if chars[i] != "\n" else "\n"
        for j, c in enumerate(fill):
            if start + j < end:
                chars[start + j] = c
    text = "".join(chars)
    out = []
    for para in re.finditer(r"(?:[^\n]+\n?)+", text):
        block = para.group(0)
        if block.lstrip().startswith(("#", "|", ">", "<", "    ")):
            continue  # headings, tables, quotes, raw HTML and indented code
        line = markdown.count("\n", 0, para.start()) + 1
        for sentence in _SENTENCE_END.split(" ".join(block.split())):
            if "LIVEVALUE" in sentence or _LABELLED.search(sentence):
                continue
            if _FIGURE.search(sentence) and _OUTCOME.search(sentence):
                out.append((line, sentence.strip()))
    return out
