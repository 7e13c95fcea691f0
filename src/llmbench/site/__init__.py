"""The llmbench site: live directives, pure renderers, generated pages and the mkdocs plugin.

Data flows: `data.load_site_data` reads everything once per build; `markers` finds the
`<!-- live: ... -->` directives of a page; `directives` checks each against its registered
spec and renders it (one module per family); `generated`, `pages` and `layout` make the
generated pages; `plugin` is the mkdocs glue; `inputs` and `cache` let a warm build reuse
what did not change. Entry points for the CLI: `refresh_files(paths, project)`,
`serve(project, host, port)` and `build_site(project, site_dir, strict)`.
"""
from __future__ import annotations

from .serve import build_site, serve

__all__ = ["refresh_files", "serve", "build_site"]


def __getattr__(name: str):
    # Imported on first use: mkdocs imports this package to load the plugin, and a warm
    # build should not pay for the renderers and the result schema it may never need.
    if name == "refresh_files":
        from .refresh import refresh_files

        return refresh_files
    raise AttributeError(f"module 'llmbench.site' has no attribute {name!r}")
