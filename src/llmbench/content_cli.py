"""`llmbench new-model` and `llmbench import`: registered by cli.py when this module is present.

Thin argument handling only; the work is in scaffold.new_model and importer.import_study.
"""
from __future__ import annotations

import argparse
import os

from .importer import import_study, parse_maps
from .project import Project
from .scaffold import new_model, new_model_report


def cmd_new_model(args) -> int:
    """``llmbench new-model MODEL``: create solutions/MODEL/ with every challenge's prompt."""
    project = Project.find()
    written = new_model(project, args.model)
    print(new_model_report(project, args.model, written))
    return 0


def cmd_import(args) -> int:
    """``llmbench import PATH|GIT-URL``: import a study repository's solutions into solutions/.

    Returns:
        0 when every solution was imported, else 1.
    """
    project = Project.find()
    summary = import_study(project, args.source, parse_maps(args.map), force=args.force)
    print(summary.render())
    if summary.ok:
        print("Next: `llmbench run` runs the imported solutions, then `llmbench build` builds the site.")
    return 0 if summary.ok else 1


def cmd_study(args) -> int:
    """``llmbench study``: import the published study (pinned in data/study.toml, or a local copy) for this
    build; it is never stored in the repository.

    Returns:
        0 when every solution was imported, else 1.
    """
    from .study import load_study
    from .study_source import StudyCopy

    project = Project.find()
    study = load_study(project.root / "data" / "study.toml")
    source = args.source or os.environ.get("STUDY") or None
    with StudyCopy(source, study.source if study else "", study.commit if study else "") as (folder, shown, notes):
        for note in notes:
            print(f"note: {note}")
        print(f"Importing the study from {shown} (brought in for this build, never stored in the repository)")
        summary = import_study(project, str(folder), parse_maps(args.map))
    print(summary.render())
    return 0 if summary.ok else 1


def register(sub, iso=None) -> None:
    """Add the content commands (``new-model``, ``import``, ``study``) to the CLI's subparsers."""
    p = sub.add_parser("new-model", help="create solutions/MODEL/ with every challenge's prompt and model.toml")
    p.add_argument("model", help="model id: [a-z0-9][a-z0-9._-]* (e.g. glm5.1, kimi-k2.6)")
    p.set_defaults(func=cmd_new_model)

    p = sub.add_parser("import", help="import a study repository (<model>/<challenge>/ folders) into solutions/")
    p.add_argument("source", metavar="PATH|GIT-URL", help="a folder, or a git URL cloned with --depth 1")
    p.add_argument("--map", action="append", default=[], metavar="FOLDER=MODEL",
                   help="import the model folder FOLDER as model id MODEL (repeatable)")
    p.add_argument("--force", action="store_true", help="replace solutions that already exist")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("study", help="import the published study: pinned by URL and commit (data/study.toml), "
                                     "or from a local copy (folder, clone or .tar.gz)")
    p.add_argument("--source", metavar="PATH", help="a local copy of the study (default: $STUDY, else download)")
    p.add_argument("--map", action="append", default=[], metavar="FOLDER=MODEL", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_study)
