"""The legend a page gets for status glyphs that no legend of the page explains yet."""
from __future__ import annotations

import re

from ..vocabulary import KINDS

_GLYPH_MARK = re.compile(r'<span class="lb-mark lb-([a-z]+)"')


def page_legend(html: str, glossary_url: str, uri: str) -> str:
    """A legend for every glyph kind on a page that no legend of the page explains yet.

    Args:
        html: The page's HTML.
        glossary_url: The Statuses page's URL, relative to this page.
        uri: The page's src_uri (the Statuses page itself gets none).

    Returns:
        The legend's HTML paragraph, or '' when nothing needs explaining.
    """
    if uri == "statuses.md":
        return ""
    used = list(dict.fromkeys(_GLYPH_MARK.findall(html)))
    explained = set()
    for legend in re.findall(r'<p class="lb-legend">(.*?)</p>', html, re.S):
        explained.update(_GLYPH_MARK.findall(legend))
    missing = [k for k in used if k in KINDS and k not in explained]
    flag = 'class="lb-flag"' in html and "grade contradicted" not in html
    if not missing and not flag:
        return ""
    entries = [f'<span class="lb-mark lb-{k}">{KINDS[k].glyph} {KINDS[k].label}</span>' for k in missing]
    if flag:
        entries.append('<span class="lb-flag">⚑ grade contradicted</span>')
    return (f'<p class="lb-legend">Legend: {" · ".join(entries)} · '
            f'<a href="{glossary_url}">all statuses</a></p>')
