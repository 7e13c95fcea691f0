"""Tests of the site: directives, renderers, generated pages, refresh, the mkdocs build and a browser."""
