"""The live-directive grammar and the in-place replacement (idempotent, lossless)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbench.errors import ContentError
from llmbench.site.markers import CLOSE, parse_args, replace, scan, skeleton


def fake(d) -> str:
    """A renderer whose output depends on the directive, with block and inline shapes."""
    args = ",".join(f"{k}={v}" for k, v in sorted(d.args.items()))
    if d.inline:
        return f"[{d.name}|{args}]"
    return f"| {d.name} |\n| --- |\n| {args or '-'} |"


def test_arguments_bare_quoted_and_lists():
    name, args = parse_args(' value model=glm5 title="a \\"quoted\\" title" models=a,b,c empty=', "f.md", 3)
    assert name == "value"
    assert args == {"model": "glm5", "title": 'a "quoted" title', "models": ("a", "b", "c"), "empty": ""}


@pytest.mark.parametrize("body, message", [
    ("", "needs a name"),
    ("Grade_matrix", "needs a name"),
    ("results challenge", "cannot read the arguments"),
    ('results title="open', "cannot read the arguments"),
    ("results a=1 a=2", "given twice"),
])
def test_bad_arguments_name_file_and_line(body, message):
    with pytest.raises(ContentError) as exc:
        parse_args(body, "analysis/x.md", 7)
    assert message in str(exc.value)
    assert str(exc.value).startswith("analysis/x.md:7:")


def test_block_and_inline_directives_are_told_apart():
    text = "Intro <!-- live: value model=a --> end.\n\n  <!-- live: results challenge=kv -->\n\n| x | <!-- live: value m=b --> |\n"
    spans = scan(text).spans
    assert [(s.directive.name, s.directive.inline, s.directive.line) for s in spans] == [
        ("value", True, 1), ("results", False, 3), ("value", True, 5)]
    assert spans[1].indent == "  "


def test_replace_writes_closing_marker_and_keeps_everything_else():
    text = "# T\n\nBefore <!-- live: value model=a -->, after.\n\n<!-- live: ranking -->\n\nTail text.\n"
    out = replace(text, fake)
    assert out == ("# T\n\nBefore <!-- live: value model=a -->[value|model=a]<!-- /live -->, after.\n\n"
                   "<!-- live: ranking -->\n\n| ranking |\n| --- |\n| - |\n\n<!-- /live -->\n\nTail text.\n")
    assert replace(out, fake) == out
    assert skeleton(out) == text


def test_old_content_is_replaced_up_to_the_closing_marker():
    text = "<!-- live: ranking -->\nold table\nmore old\n<!-- /live -->\nkept\n"
    out = replace(text, fake)
    assert "old table" not in out and out.endswith(f"{CLOSE}\nkept\n")


def test_indented_block_content_keeps_the_indent():
    text = "- item\n\n    <!-- live: ranking -->\n\n- next\n"
    out = replace(text, fake)
    assert "\n    | ranking |\n    | --- |\n" in out and f"\n    {CLOSE}\n" in out
    assert replace(out, fake) == out


def test_code_is_never_touched():
    text = ("```cuda\n__global__ void k() { <!-- live: ranking --> }\n<!-- /live -->\n```\n"
            "~~~~\n<!-- live: x -->\n~~~~\n"
            "Use `<!-- live: ranking -->` or ``a ` <!-- /live --> b``.\n"
            "    ```\n    <!-- live: nested -->\n    ```\n")
    assert scan(text).spans == []
    assert replace(text, fake) == text


def test_unclosed_fence_runs_to_the_end():
    text = "```\n<!-- live: ranking -->\n<!-- /live -->\n"
    assert replace(text, fake) == text


def test_orphan_closing_marker_is_an_error_with_line():
    with pytest.raises(ContentError) as exc:
        scan("ok\n\n<!-- /live -->\n", "docs/a.md")
    assert "docs/a.md:3" in str(exc.value) and "without a live directive" in str(exc.value)
    with pytest.raises(ContentError):
        scan("<!-- live: a -->\nx\n<!-- /live -->\n<!-- /live -->\n")


def test_directive_must_be_on_one_line():
    with pytest.raises(ContentError) as exc:
        scan("text\n<!-- live: results\n challenge=kv -->\n", "r.md")
    assert "r.md:2" in str(exc.value)


def test_line_offset_counts_front_matter():
    with pytest.raises(ContentError) as exc:
        scan("\n<!-- /live -->", "p.md", line_offset=4)
    assert "p.md:6" in str(exc.value)


def test_ordinary_comments_are_skipped():
    text = "<!-- a note with <!-- /live --> inside -->\n<!-- live: ranking -->\n"
    assert [s.directive.name for s in scan(text).spans] == ["ranking"]


# ---- property: refresh is idempotent and lossless over random markdown ---------------------

_word = st.text(alphabet="abcdefgxyz {}();*_#|-=+.,:/\\<>!'\"", min_size=0, max_size=12).filter(
    lambda s: "<!--" not in s and "-->" not in s)
_name = st.sampled_from(["ranking", "grade-matrix", "value", "chart", "results"])
_args = st.lists(st.tuples(st.sampled_from(["model", "challenge", "metric", "title", "models"]),
                           st.sampled_from(["glm5", "kv", '"two words"', "a,b", "x.y"])),
                 max_size=3, unique_by=lambda t: t[0])


@st.composite
def directive(draw, inline: bool):
    args = " ".join(f"{k}={v}" for k, v in draw(_args))
    marker = f"<!-- live: {draw(_name)}{' ' + args if args else ''} -->"
    if draw(st.booleans()):  # with old generated content and its closing marker
        old = draw(_word)
        marker += (old + CLOSE) if inline else f"\n{old}\n{CLOSE}"
    return marker


@st.composite
def code_block(draw):
    fence = draw(st.sampled_from(["```", "````", "~~~"]))
    lang = draw(st.sampled_from(["", "cuda", "python"]))
    body = draw(st.lists(st.one_of(_word, st.just("<!-- live: ranking -->"), st.just(CLOSE),
                                   st.just("__global__ void k() { int a[4] = {0}; }")), max_size=4))
    return f"{fence}{lang}\n" + "\n".join(body) + f"\n{fence}"


@st.composite
def markdown_doc(draw):
    blocks = []
    for kind in draw(st.lists(st.sampled_from(["text", "inline", "block", "code", "span", "table"]), max_size=10)):
        if kind == "text":
            blocks.append(draw(_word).strip() or "plain")
        elif kind == "inline":
            blocks.append(f"{draw(_word).strip() or 'See'} {draw(directive(True))} {draw(_word).strip() or 'end'}")
        elif kind == "block":
            blocks.append(draw(directive(False)))
        elif kind == "code":
            blocks.append(draw(code_block()))
        elif kind == "span":
            blocks.append(f"Code `{draw(st.sampled_from(['<!-- live: ranking -->', CLOSE, 'x{}']))}` here")
        else:
            blocks.append(f"| a | b |\n| --- | --- |\n| {draw(directive(True))} | x |")
    sep = draw(st.sampled_from(["\n\n", "\n\n\n"]))
    return sep.join(blocks) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown_doc())
def test_refresh_is_idempotent_and_lossless(doc):
    once = replace(doc, fake)
    assert replace(once, fake) == once  # a second refresh changes nothing
    assert skeleton(once) == skeleton(doc)  # hand-written text is byte-identical
    code = [doc[a:b] for a, b in scan(doc).code if doc[a:a + 3] in ("```", "~~~")]
    pos = 0
    for block in code:  # code blocks survive unchanged and in order
        pos = once.index(block, pos) + len(block)
    assert once.count("<!-- live:") == doc.count("<!-- live:")
