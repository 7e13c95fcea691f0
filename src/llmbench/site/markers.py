"""The marker parser: finds `<!-- live: NAME key=value ... -->` comments in markdown.

A directive may be followed by generated content that ends at the next `<!-- /live -->`.
Scanning goes left to right like a markdown reader would: fenced code blocks and inline
code spans are skipped whole, so directive-like text inside code is never touched.
Replacing rewrites only the text between a directive and its closing marker; everything
else stays byte-identical, and a second pass gives the same text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ContentError

CLOSE = "<!-- /live -->"
_MARKER = re.compile(r"<!--\s*(?:live:(?P<body>[^\n]*?)|(?P<close>/live))\s*-->")
_UNTERMINATED = re.compile(r"<!--\s*live:[^\n]*$", re.M)
_FENCE = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)")
_INTERESTING = re.compile(r"\n|`|<!--")
_BACKTICKS = re.compile(r"`+")
_NAME = re.compile(r"[a-z][a-z0-9-]*")
_ARG = re.compile(r'\s*(?P<key>[a-z_][a-z0-9_-]*)=(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s"]*))')


@dataclass(frozen=True)
class Directive:
    """One parsed live directive, as a renderer receives it.

    Attributes:
        name: The directive's name (`results`, `chart`...).
        args: Its arguments: a string per `key=value`, a tuple per `key=a,b` list.
        line: The line of its marker in the file (1-based, front matter counted).
        inline: False when the directive stands alone on its line (a block).
    """

    name: str
    args: dict[str, str | tuple[str, ...]]
    line: int
    inline: bool

    def text(self, key: str, default: str | None = None) -> str | None:
        """One argument as text.

        Args:
            key: The argument's name.
            default: What an absent argument reads as.

        Returns:
            The value; a list argument joined with ", ".
        """
        value = self.args.get(key, default)
        return ", ".join(value) if isinstance(value, tuple) else value

    def items(self, key: str) -> tuple[str, ...]:
        """One argument as a tuple of values (empty when absent, one item for a single value).

        Args:
            key: The argument's name.

        Returns:
            The values in the order written.
        """
        value = self.args.get(key)
        if value is None:
            return ()
        return value if isinstance(value, tuple) else (value,)


@dataclass(frozen=True)
class Span:
    """One directive in a text: its marker at [start, marker_end), content up to content_end.

    Attributes:
        directive: The parsed directive.
        start: Offset of the marker's `<!--`.
        marker_end: Offset just after the marker's `-->`.
        content_end: End of its generated content (== marker_end when there is no closing marker).
        end: Offset after the closing marker (== marker_end when none).
        indent: The whitespace before a block directive's marker, repeated on its content.
    """

    directive: Directive
    start: int
    marker_end: int
    content_end: int  # == marker_end when there is no closing marker
    end: int  # after the closing marker (== marker_end when none)
    indent: str = ""

    @property
    def closed(self) -> bool:
        """True when a closing marker ends the directive's content."""
        return self.end != self.marker_end


@dataclass
class Scan:
    """What `scan` found in a text.

    Attributes:
        spans: The directives, in order.
        code: (start, end) offsets of fenced code blocks and inline code spans.
    """

    spans: list[Span] = field(default_factory=list)
    code: list[tuple[int, int]] = field(default_factory=list)  # fenced blocks and code spans


def line_at(text: str, pos: int) -> int:
    """The 1-based line number of an offset.

    Args:
        text: The text.
        pos: An offset in it.

    Returns:
        The line number.
    """
    return text.count("\n", 0, pos) + 1


def parse_args(body: str, path: str, line: int) -> tuple[str, dict[str, str | tuple[str, ...]]]:
    """Read a directive's body: `NAME key=value key="quoted value" key=a,b`.

    Args:
        body: The text between `live:` and `-->`.
        path: The file, for error messages.
        line: The marker's line, for error messages.

    Returns:
        (name, {key: value, or a tuple of values for a list}).

    Raises:
        ContentError: The name or an argument cannot be read, or a key is given twice.
    """
    body = body.strip()
    m = _NAME.match(body)
    if not m:
        raise ContentError(path, f"live directive needs a name after 'live:', got '{body[:40]}'", line)
    name, rest, args = m.group(0), body[m.end():], {}
    if rest and not rest[0].isspace():
        raise ContentError(path, f"live directive name '{body.split()[0]}' is not valid (use lowercase letters, digits and -)", line)
    pos = 0
    while rest[pos:].strip():
        a = _ARG.match(rest, pos)
        if not a:
            raise ContentError(
                path, f"cannot read the arguments of '{name}' at '{rest[pos:].strip()[:40]}': write key=value, "
                'key="a quoted value" or key=a,b', line)
        key = a.group("key")
        if key in args:
            raise ContentError(path, f"argument '{key}' given twice in '{name}'", line)
        if a.group("quoted") is not None:
            value: str | tuple[str, ...] = re.sub(r"\\(.)", r"\1", a.group("quoted"))
        else:
            bare = a.group("bare")
            value = tuple(v for v in bare.split(",") if v) if "," in bare else bare
        args[key] = value
        pos = a.end()
    return name, args


def _fence_end(text: str, start: int, fence: str) -> int:
    """End of the fenced block opened at start (after its closing line, or end of text)."""
    char, size = fence[0], len(fence)
    pos = text.find("\n", start)
    while pos != -1:
        line_start = pos + 1
        line_end = text.find("\n", line_start)
        line = text[line_start:] if line_end == -1 else text[line_start:line_end]
        stripped = line.strip()
        if stripped and set(stripped) == {char} and len(stripped) >= size:
            return len(text) if line_end == -1 else line_end
        pos = line_end
    return len(text)


def _code_span_end(text: str, start: int, run: int) -> int | None:
    """End of an inline code span whose opening backtick run starts at start, or None."""
    pos = start + run
    limit = text.find("\n\n", pos)
    limit = len(text) if limit == -1 else limit
    for m in _BACKTICKS.finditer(text, pos, limit):
        if len(m.group(0)) == run:
            return m.end()
    return None


def scan(text: str, path: str = "<text>", line_offset: int = 0) -> Scan:
    """Find the directives and their content in text, skipping code.

    Args:
        text: Markdown.
        path: The file, for error messages.
        line_offset: Lines that precede text in its file (front matter removed by mkdocs).

    Returns:
        The directives' spans and the code regions skipped.

    Raises:
        ContentError: An orphan closing marker, a marker without `-->` on its line, or a
            directive whose arguments cannot be read.
    """
    out = Scan()
    pos, n = 0, len(text)
    pending: tuple[Directive, int, int, str] | None = None  # an opened directive awaiting its closer

    def flush(end_of_content: int | None, end: int | None) -> None:
        nonlocal pending
        if pending is not None:
            d, s, e, indent = pending
            out.spans.append(Span(d, s, e, end_of_content if end_of_content is not None else e,
                                  end if end is not None else e, indent))
            pending = None

    while pos < n:
        if pos == 0 or text[pos - 1] == "\n":
            f = _FENCE.match(text, pos)
            if f and not (f.group("fence")[0] == "`" and "`" in f.group("info")):
                end = _fence_end(text, pos, f.group("fence"))
                out.code.append((pos, end))
                pos = end
                continue
        nxt = _INTERESTING.search(text, pos)
        if nxt is None:
            break
        pos = nxt.start()
        ch = text[pos]
        if ch == "\n":
            pos += 1
            continue
        if ch == "`":
            run = len(_BACKTICKS.match(text, pos).group(0))
            end = _code_span_end(text, pos, run)
            if end is not None:
                out.code.append((pos, end))
                pos = end
            else:
                pos += run
            continue
        if ch == "<" and text.startswith("<!--", pos):
            m = _MARKER.match(text, pos)
            if m is None:
                if _UNTERMINATED.match(text, pos):
                    raise ContentError(path, "a live directive must end with '-->' on the same line",
                                       line_at(text, pos) + line_offset)
                close = text.find("-->", pos + 4)
                pos = n if close == -1 else close + 3  # an ordinary comment: skip it whole
                continue
            line = line_at(text, pos) + line_offset
            if m.group("close"):
                if pending is None:
                    raise ContentError(
                        path, "closing marker <!-- /live --> without a live directive before it; "
                        "remove it or add the directive", line)
                flush(pos, m.end())
            else:
                flush(None, None)
                name, args = parse_args(m.group("body"), path, line)
                line_start = text.rfind("\n", 0, pos) + 1
                line_end = text.find("\n", m.end())
                line_end = n if line_end == -1 else line_end
                before, after = text[line_start:pos], text[m.end():line_end]
                inline = bool(before.strip()) or bool(after.strip())
                pending = (Directive(name, args, line, inline), pos, m.end(), "" if inline else before)
            pos = m.end()
            continue
        pos += 1  # pragma: no cover - _INTERESTING only stops at the cases above
    flush(None, None)
    return out


Render = Callable[[Directive], str]


def format_content(span: Span, content: str) -> str:
    """The text that follows a directive's marker: its content and the closing marker.

    Args:
        span: Where the directive is (inline or a block, and its indent).
        content: The rendered markdown.

    Returns:
        The content laid out for the directive's position, ending with the closing marker.
    """
    if span.directive.inline:
        return content.replace("\n", " ") + CLOSE
    lines = content.strip("\n").split("\n")
    body = "\n".join(span.indent + line if line.strip() else "" for line in lines)
    return "\n\n" + body + "\n\n" + span.indent + CLOSE


def replace(text: str, render: Render, path: str = "<text>", line_offset: int = 0) -> str:
    """Render every directive's content anew; nothing outside directives changes.

    Args:
        text: Markdown.
        render: Called with each Directive; returns its markdown.
        path: The file, for error messages.
        line_offset: Lines that precede text in its file (front matter).

    Returns:
        The text with each directive followed by its fresh content and a closing marker.

    Raises:
        ContentError: From `scan`, or from render for a contributor's mistake.
    """
    result = scan(text, path, line_offset)
    parts, last = [], 0
    for span in result.spans:
        parts.append(text[last:span.marker_end])
        parts.append(format_content(span, render(span.directive)))
        last = span.end
    parts.append(text[last:])
    return "".join(parts)


def skeleton(text: str, path: str = "<text>") -> str:
    """Remove every directive's generated content and closing marker (for tests).

    Args:
        text: Markdown.
        path: The file, for error messages.

    Returns:
        The text as a contributor writes it, markers only.
    """
    result = scan(text, path)
    parts, last = [], 0
    for span in result.spans:
        parts.append(text[last:span.marker_end])
        last = span.end
    parts.append(text[last:])
    return "".join(parts)
