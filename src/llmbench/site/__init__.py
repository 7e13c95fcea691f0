"""The llmbench site: live directives, pure renderers, generated pages and the mkdocs plugin.

Data flows: `data.load_site_data` reads everything once per build; `markers` finds the
`<!-- live: ... -->` directives of a page; `directives` checks each against its registered
spec and renders it (one module per family); `pages` and `layout` make the generated pages;
`plugin` is the mkdocs glue. Entry points for the CLI: `refresh_files(paths, project)`,
`serve(project, host, port)` and `build_site(project, site_dir, strict)`.
"""
from .refresh import refresh_files
from .serve import build_site, serve

__all__ = ["refresh_files", "serve", "build_site"]
