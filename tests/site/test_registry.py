"""The directive registry: a directive added from outside the plugin renders in a built site."""
from __future__ import annotations

import shutil

import pytest
from mkdocs.exceptions import Abort, PluginError

from llmbench.project import Project
from llmbench.site.cells import mark
from llmbench.site.directives import REGISTRY, DirectiveSpec, Registry, directive
from llmbench.site.serve import build_site
from llmbench.site.text import esc

TOY = "toy-count"


@pytest.fixture
def toy_directive():
    """A directive registered the way a contributor adds one: a decorated function, no plugin edit."""

    @directive(TOY, args={"challenge": "challenge", "word": "results|traps"}, required=("challenge",),
               inline=True, help="a toy: how many results or traps one challenge has")
    def toy(d, ctx):
        cid = d.text("challenge")
        if d.text("word", "results") == "traps":
            spec = ctx.data.challenges[cid].spec
            n = len(spec.traps) if spec else 0
        else:
            n = sum(1 for (_m, c) in ctx.data.results if c == cid)
        if not n:
            return mark(ctx, "none", f"nothing for {esc(cid)}")
        return f"TOY[{n} {d.text('word', 'results')} of {esc(cid)}]"

    yield toy
    REGISTRY.remove(TOY)


def test_a_registered_directive_renders_in_the_built_site(toy_directive, synthetic_root, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root)
    (root / "analysis/toy.md").write_text(
        "# Toy\n\nAlpha has <!-- live: toy-count challenge=alpha word=traps --> here.\n\n"
        "<!-- live: toy-count challenge=alpha -->\n")
    site = build_site(Project(root), tmp_path / "out")
    page = (site / "analysis/toy/index.html").read_text(encoding="utf-8")
    body = page[page.index("<h1"):page.index("</article>")]
    assert "-->TOY[3 traps of alpha]<!-- /live --> here.</p>" in body, body  # inline, inside its sentence
    assert "<p>TOY[5 results of alpha]</p>" in body  # synthetic-a ... synthetic-e ran alpha


def test_a_registered_directive_gets_its_arguments_checked(toy_directive, synthetic_root, tmp_path, caplog):
    root = tmp_path / "repo"
    shutil.copytree(synthetic_root, root)
    (root / "analysis/toy.md").write_text("# Toy\n\n<!-- live: toy-count challenge=alpha word=lots -->\n")
    with pytest.raises((PluginError, Abort)):
        build_site(Project(root), tmp_path / "out")
    assert ("llmbench: analysis/toy.md:3: live directive 'toy-count': unknown value of word 'lots' in word=; "
            "valid value of words: results, traps") in caplog.text


def test_registry_refuses_a_name_twice_and_a_required_argument_it_does_not_take():
    registry = Registry()
    registry.add(DirectiveSpec("x", lambda d, ctx: "", {"a": "text"}, ("a",)))
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(DirectiveSpec("x", lambda d, ctx: ""))
    with pytest.raises(ValueError, match="not among its arguments"):
        registry.add(DirectiveSpec("y", lambda d, ctx: "", {"a": "text"}, ("b",)))
    assert registry.names() == ["x"] and "x" in registry and "y" not in registry
    registry.remove("x")
    assert registry.names() == []
