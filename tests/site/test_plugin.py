"""The mkdocs plugin's glue: nav sections, watched folders, raw-HTML placeholders."""
from __future__ import annotations

from llmbench.site.plugin import LlmbenchPlugin
from llmbench.site.stash import RawStash


class FakeConfig(dict):
    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value


def configured(root, nav):
    plugin = LlmbenchPlugin()
    plugin.load_config({})
    config = FakeConfig(config_file_path=str(root / "mkdocs.yml"), extra_css=[], extra_javascript=[], nav=nav)
    plugin.on_config(config)
    return plugin, config


def test_nav_entries_become_sections_and_assets_are_added(synthetic_root):
    nav = [{"Home": "index.md"}, {"Challenges": "challenges/index.md"}, {"Models": "models/index.md"},
           {"More": [{"Analysis": "analysis/index.md"}]}]
    plugin, config = configured(synthetic_root, nav)
    assert config.nav[1] == {"Challenges": ["challenges/index.md", {"Alpha Attention": "challenges/alpha.md"},
                                            {"Beta Kernel": "challenges/beta.md"}]}
    models = config.nav[2]["Models"]
    assert models[0] == "models/index.md" and {"Synthetic Golf": "models/synthetic-g.md"} in models
    assert config.nav[3] == {"More": [{"Analysis": ["analysis/index.md", {"Synthetic analysis": "analysis/synthetic.md"}]}]}
    assert config.extra_css == ["assets/llmbench/llmbench.css"]
    assert config.extra_javascript == ["assets/llmbench/llmbench.js"]


def test_serve_watches_the_content_folders(synthetic_root):
    plugin, config = configured(synthetic_root, None)
    watched = []

    class Server:
        def watch(self, path):
            watched.append(path)

    plugin.on_serve(Server(), config=config, builder=None)
    names = {p.rsplit("/", 1)[-1] for p in watched}
    assert {"analysis", "challenges", "results", "solutions", "data"} <= names


def test_raw_stash_round_trip():
    stash = RawStash("lbraw0")
    token = stash("<svg><text>a</text></svg>").strip()
    html = f"<p>before</p>\n<p>{token}</p>\n<p>after</p>"
    assert stash.restore(html) == "<p>before</p>\n<svg><text>a</text></svg>\n<p>after</p>"
