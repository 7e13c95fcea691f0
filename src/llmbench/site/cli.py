"""`llmbench refresh` and `llmbench serve`: registered by cli.py when this module is present."""
from __future__ import annotations

from ..project import Project


def cmd_refresh(args) -> int:
    """`llmbench refresh FILE...`: re-render live directives in place, print what changed.

    Args:
        args: The parsed command line (args.files).

    Returns:
        The exit status.
    """
    from .refresh import refresh_files

    project = Project.find()
    changed = refresh_files(args.files, project)
    for path in changed:
        try:
            shown = path.relative_to(project.root)
        except ValueError:
            shown = path
        print(f"refreshed {shown}")
    if not changed:
        print("already current: nothing changed")
    return 0


def cmd_serve(args) -> int:
    """`llmbench serve`: serve the site locally, rebuilt on changes.

    Args:
        args: The parsed command line (args.host, args.port).

    Returns:
        The exit status.
    """
    from .serve import serve

    serve(Project.find(), host=args.host, port=args.port)
    return 0


def register(sub, iso=None) -> None:
    """Add the site's commands (refresh, serve, build) to the llmbench command line.

    Args:
        sub: The argparse subparsers to add to.
        iso: Unused here.
    """
    p = sub.add_parser("refresh", help="re-render the live directives of markdown files in place (e.g. README.md)")
    p.add_argument("files", nargs="+", metavar="FILE", help="markdown files holding <!-- live: ... --> directives")
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("serve", help="serve the site locally, rebuilt when docs/, analysis/, challenges/ or results/ change")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("build", help="build the site into site/ (mkdocs build --strict with the llmbench plugin)")
    p.set_defaults(func=cmd_build)


def cmd_build(args) -> int:
    """`llmbench build`: build the site into site/.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from .serve import build_site

    out = build_site(Project.find())
    print(f"site built in {out}")
    return 0
