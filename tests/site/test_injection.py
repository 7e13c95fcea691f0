"""Issue 13: no element or attribute of the built site comes from text a solution controls.

One model's result, files, notes, logs, reported figures, inputs and model.toml carry
strings that once became live markup (a `|` splitting a table cell so that an attribute
list `{: onmouseover=...}` applied to a link, a raw-HTML placeholder a solution can type,
Python-Markdown's own \\x02 stash markers). The site is built with mkdocs and every page's
HTML is parsed: the hostile marker may appear as text, never as a tag, an attribute name,
or in an attribute that does something.
"""
from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from llmbench.schema import AdapterInfo, FileInfo, PhaseResult, Reported, TestRecord, TrapVerdict
from llmbench.store import ResultStore

from synthetic import make_project, result  # tests/site/conftest.py puts tests/site on sys.path

pytestmark = pytest.mark.slow

MARK = "evl"  # in every hostile string; never in our templates or the theme
HOSTILE = [
    f'x | [{MARK}](javascript:{MARK}()){{: onmouseover="{MARK}()" style="position:fixed" }} | y',
    f'<{MARK}-tag on{MARK}="1" onclick="{MARK}()">b</{MARK}-tag> <script>{MARK}()</script>',
    f'lbraw0x00000x lbraw1x00001x \x02wzxhzdk:0\x03 \x02wzxhzdk:1\x03 {MARK}',
    f'{{: .{MARK}-class #{MARK}-id }} ![{MARK}](http://{MARK}.example/i.png) <http://{MARK}.example/>',
    f'" onmouseover="{MARK}()" x="&quot; &#124; `{MARK}` *{MARK}* __{MARK}__ [^{MARK}] <!-- live: ranking -->',
    f'\n\n# {MARK} heading\n\n!!! note "{MARK}"\n    body\n\n: {MARK}\n\n=== {MARK}\n\n<div markdown="1" class="{MARK}">',
]
TEXT = " ".join(HOSTILE)
# Attributes that only ever hold text for people (a title tooltip, a heading's slug) may
# contain the marker as text; no other attribute may.
TEXT_ATTRS = {"title", "aria-label", "alt", "id", "data-md-component"}


class Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if MARK in tag:
            self.bad.append(f"element <{tag}>")
        rel = dict(attrs).get("rel")
        for name, value in attrs:
            if name == "href" and rel == "nofollow noopener" and value.startswith(("http://", "https://")):
                continue  # by design: the model's notes are sanitised markdown, web links kept (rel=nofollow)
            if MARK in name or name.startswith("on"):
                self.bad.append(f"attribute {name}={value!r} on <{tag}>")
            elif value and MARK in value and name not in TEXT_ATTRS and not (name == "href" and value.startswith("#")):
                self.bad.append(f"attribute {name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


def hostile_phase(name: str) -> PhaseResult:
    tests = [TestRecord(name=f"{h} {i}", outcome=o, trap="t_one" if name == "conformance" else None, message=h,
                        inputs=h, asserts=1) for i, (h, o) in enumerate(zip(HOSTILE, ["failed", "error", "passed"] * 2))]
    return PhaseResult(name=name, status="failed", reason=TEXT, tests=tests, log_tail=TEXT,
                       counts={"failed": 2, "error": 2, "passed": 2})


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Path:
    from llmbench.project import Project
    from llmbench.site.serve import build_site

    root = make_project(tmp_path_factory.mktemp("hostile"))
    model = "synthetic-x"
    study = (root / "data/study.toml").read_text()
    study = study.replace('[grades.alpha]\n', f'[grades.alpha]\n"{model}" = "A"\n')
    study = study.replace("[[challenges]]", f'[[models]]\nfolder = "{model}"\nname = {json.dumps(TEXT)}\n'
                                            f'provider = {json.dumps(TEXT)}\n\n[[challenges]]', 1)
    (root / "data/study.toml").write_text(study)
    folder = root / "solutions" / model
    (folder / "alpha").mkdir(parents=True)
    (folder / "model.toml").write_text(f"name = {json.dumps(TEXT)}\nprovider = {json.dumps(TEXT)}\n"
                                       f"note = {json.dumps(TEXT)}\n")
    (folder / "alpha" / "attend.py").write_text(f"def attend(Q, K, V):\n    return Q  # {TEXT!r}\n")
    (folder / "alpha" / "FINAL.md").write_text("\n\n".join(HOSTILE))
    names = [h.replace("/", "_").replace("\x00", "")[:120].strip() or MARK for h in HOSTILE[:5]]
    for n in names:
        (folder / "alpha" / f"{n}.py").write_text(TEXT)
    r = result(model, "alpha", "failed", reason=TEXT, own=hostile_phase("own_tests"),
               conformance=hostile_phase("conformance"), metrics={"err": 3.0},
               traps={"t_one": ("fell_in", TEXT, TEXT), "t_two": ("not_run", TEXT), "t_three": ("avoided", TEXT)},
               reported={"err": Reported(value=TEXT, unit=TEXT, source=TEXT)},
               adapter=AdapterInfo(kind="mapping", mapping={"attend": TEXT}, notes=TEXT, harness=TEXT))
    r.files = [FileInfo(path=h, bytes=3, lines=1) for h in HOSTILE] + [FileInfo(path="FINAL.md", bytes=10, lines=2)]
    r.traps["t_one"] = TrapVerdict(status="fell_in", reason=TEXT, tests=HOSTILE)
    ResultStore(root / "results").write(r)
    site = build_site(Project(root), tmp_path_factory.mktemp("site") / "site")
    yield site
    shutil.rmtree(site, ignore_errors=True)


def test_no_element_or_attribute_comes_from_solution_text(hostile_site):
    pages = sorted(hostile_site.rglob("*.html"))
    solution_page = hostile_site / "solutions" / "synthetic-x" / "alpha" / "index.html"
    assert solution_page in pages
    seen = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        seen += text.count(MARK)
        collector = Collector()
        collector.feed(text)
        assert collector.bad == [], f"{page.relative_to(hostile_site)}: {collector.bad[:5]}"
        assert "\x02" not in text and "\x03" not in text
    assert seen > 50  # the strings did reach the pages, as text
    home = (hostile_site / "index.html").read_text(encoding="utf-8")
    assert "⚑" in home  # the flags (their title attribute once split the table cell) are on the home page
