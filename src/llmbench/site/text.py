"""Safe text: escaping for markdown cells, markdown tables, sanitised notes, highlighted sources.

Anything a model produced (file names, messages, notes, sources, logs) goes through these
functions: raw HTML is escaped, markdown syntax is neutralised, links that could fail the
build or leave the site are dropped, and nothing can look like a live directive.
"""
from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as etree

# Entities where a backslash would not do (Python-Markdown cannot escape < or |), backslashes
# elsewhere so that raw markdown on GitHub stays readable.
_MD_SPECIAL = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "~": "&#126;",
    "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "{": "\\{", "}": "\\}", "\\": "\\\\",
}
_MD_SPECIAL_RE = re.compile("[" + re.escape("".join(_MD_SPECIAL)) + "]")
# At the start of a line: headings, lists, admonitions (!!!), definitions (:), setext (===).
_LINE_START = re.compile(r"^([#+\-!:=]|\d+\.)")
# Control characters: Python-Markdown marks its stashed raw HTML with \x02...\x03; text that
# imitated such a placeholder would have markdown put our stashed HTML where it chose.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In HTML that markdown will still parse (a raw tag inside a table cell), every ASCII
# character except letters, digits and space becomes a numeric entity: markdown sees no
# |, {, [, *, ... (no cell split, no attribute list, no link), the browser shows the text.
_ATTR_UNSAFE = re.compile(r"[^A-Za-z0-9 \u0080-\U0010ffff]")


def plain(text: object) -> str:
    """Untrusted text without control characters (tabs and newlines kept).

    Args:
        text: Anything; str() is taken.

    Returns:
        The text with each control character replaced by U+FFFD.
    """
    return _CONTROL.sub("\ufffd", str(text))


def esc(text: object, limit: int | None = 240) -> str:
    """One line of untrusted text, safe inside markdown (table cells included) and HTML.

    Args:
        text: Anything; str() is taken.
        limit: Characters kept (an ellipsis marks the cut); None for all.

    Returns:
        Whitespace collapsed to single spaces, markdown and HTML specials escaped.
    """
    s = " ".join(plain(text).split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    s = _MD_SPECIAL_RE.sub(lambda m: _MD_SPECIAL[m.group(0)], s)
    return _LINE_START.sub(_line_start, s)


def _line_start(m: re.Match) -> str:
    lead = m.group(0)
    if lead[0].isdigit():
        return lead[:-1] + "\\."
    return f"&#{ord(lead)};" if lead in ":=" else "\\" + lead  # markdown cannot backslash-escape : or =


def nav_title(text: object) -> str:
    """A title for the theme's navigation, which prints it as HTML without escaping it.

    Args:
        text: A page or model name.

    Returns:
        The name on one line, HTML-escaped.
    """
    return html.escape(" ".join(plain(text).split()), quote=True)


def esc_html(text: object) -> str:
    """Untrusted text for HTML text or a quoted attribute value, inert as markdown too.

    A raw tag in a markdown page is still parsed as markdown around and inside it, so every
    character but letters, digits and spaces becomes an entity.

    Args:
        text: Anything; str() is taken.

    Returns:
        The escaped text.
    """
    return _ATTR_UNSAFE.sub(lambda m: f"&#{ord(m.group(0))};", plain(text))


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A markdown pipe table.

    Args:
        headers: Header cells.
        rows: Rows of cells; every cell already escaped single-line markdown.

    Returns:
        The table, or '' without rows.
    """
    if not rows:
        raise ValueError("a table needs rows; render a visible marker instead")
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        cells = [c.replace("\n", " ") if c.strip() else "–" for c in row]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def fmt_number(value: float | int | str, unit: str = "", spec: str | None = None) -> str:
    """A figure for reading: 3-4 significant digits, scientific for very small or large values.

    Args:
        value: The figure (a string is escaped and kept as is).
        unit: Appended after a space when given.
        spec: A Python format spec that overrides the default.

    Returns:
        The text.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    elif spec:
        text = format(value, spec)
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e6):
        text = f"{int(value):,}"
    elif value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        text = f"{value:.3g}"
    else:
        text = f"{value:.4g}"
    return f"{text} {unit}".strip() if unit else text


def pre(text: str, cls: str = "lb-log") -> str:
    """Untrusted text as an escaped preformatted block.

    Args:
        text: The text (a log, an output).
        cls: The block's class.

    Returns:
        HTML.
    """
    return f'<pre class="{cls}"><code>{html.escape(plain(text))}</code></pre>'


def highlight(source: str, filename: str) -> str:
    """Source code as highlighted HTML (Pygments classes that the theme colours).

    Args:
        source: Untrusted source text.
        filename: Its file name, which picks the lexer (plain text when none fits).

    Returns:
        HTML.
    """
    from pygments import highlight as pyg_highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    name = filename.lower()
    try:
        if name.endswith((".cu", ".cuh")):
            from pygments.lexers import CudaLexer

            lexer = CudaLexer()
        elif name.endswith(".py"):
            # The only lexer for *.py; looking it up by file name first scans every lexer's
            # patterns and the installed plugins (a fifth of a second on a cold build).
            from pygments.lexers import PythonLexer

            lexer = PythonLexer()
        else:
            lexer = get_lexer_for_filename(filename, source)
    except ClassNotFound:
        lexer = TextLexer()
    return pyg_highlight(plain(source), lexer, HtmlFormatter(cssclass="highlight", wrapcode=True))


_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _sanitise_tree(root: etree.Element) -> None:
    """Links only to the web (never relative, never javascript:), no images, headings demoted."""
    for parent in root.iter():
        for i, el in enumerate(list(parent)):
            if el.tag == "img":
                span = etree.Element("span")
                span.text = f"[image: {el.get('alt') or el.get('src') or ''}]"
                span.tail = el.tail
                parent.remove(el)
                parent.insert(i, span)
    for el in root.iter():
        if el.tag == "a":
            href = el.get("href", "")
            el.attrib.clear()
            if href.startswith(_SAFE_SCHEMES):
                el.set("href", href)
                el.set("rel", "nofollow noopener")
            else:
                el.tag = "span"
        elif el.tag in ("h1", "h2", "h3", "h4", "h5"):
            el.tag = "h" + str(min(6, int(el.tag[1]) + 3))
            el.attrib.clear()


def sanitised_markdown(text: str) -> str:
    """Untrusted markdown (a model's notes) as HTML: raw HTML escaped, links to the web only, no images.

    Args:
        text: The markdown.

    Returns:
        HTML, headings demoted below the page's own.
    """
    import markdown
    from markdown.treeprocessors import Treeprocessor

    class Sanitise(Treeprocessor):
        def run(self, root):
            _sanitise_tree(root)

    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"])
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(Sanitise(md), "llmbench_sanitise", 0)  # after inline patterns
    return md.convert(plain(text))


def code(text: str) -> str:
    """Inline code for any text: entity-escaped, never backslash-escaped.

    A code span shows backslashes literally, and markdown parses the inside of a raw
    `<code>` tag, so the text goes through `esc_html`.

    Args:
        text: Untrusted text.

    Returns:
        A `<code>` element.
    """
    return f"<code>{esc_html(text)}</code>"


def title_of(markdown: str, fallback: str) -> str:
    """A page's title: its first level-1 heading.

    Args:
        markdown: The page's text.
        fallback: The title when it has none.

    Returns:
        The title.
    """
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, re.M)
    return m.group(1) if m else fallback

