"""The llmbench site: live directives, pure renderers, generated pages and the mkdocs plugin.

Entry points for the CLI: `refresh_files(paths, project) -> changed paths`,
`serve(project, host, port)` and `build_site(project, site_dir, strict)`.
"""
from .refresh import refresh_files
from .serve import build_site, serve

__all__ = ["refresh_files", "serve", "build_site"]
