"""Live directives: the registry, argument checking and the renderers, one family per module.

`render(d, ctx)` checks a parsed directive against its registered spec and returns its
markdown. The families: `grades` (grade matrix, ranking, contradicted grades, claims),
`results` (results, traps, tests), `metrics` (chart, value), `controls` (suite
validation), `facts` (provenance, study, challenges, models, downloads) and `glossary`
(statuses, legend). A module added to this package is imported with it, so its
`@directive` functions are registered without editing anything else.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..context import Context
from ..markers import Directive
from .arguments import check_arguments
from .registry import REGISTRY, DirectiveSpec, Registry, Renderer, directive

# The families, in the order their directives are listed in error messages.
FAMILIES = ("grades", "results", "metrics", "controls", "facts", "glossary")
_INFRASTRUCTURE = {"arguments", "registry"}

for _name in FAMILIES + tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                                     if m.name not in FAMILIES and m.name not in _INFRASTRUCTURE)):
    importlib.import_module(f"{__name__}.{_name}")


def check(d: Directive, ctx: Context) -> DirectiveSpec:
    """Check a directive against its registered spec.

    Args:
        d: The directive as written.
        ctx: The page's context.

    Returns:
        Its spec.

    Raises:
        ContentError: An unknown directive, or arguments its spec or the data reject;
            the message names the file, line and key, with the valid choices.
    """
    spec = REGISTRY.spec_for(d, ctx)
    check_arguments(spec, d, ctx)
    return spec


def render(d: Directive, ctx: Context) -> str:
    """The fresh content of one directive, checked first.

    Args:
        d: The directive as written.
        ctx: The page's context.

    Returns:
        Its markdown.

    Raises:
        ContentError: A contributor's mistake in the directive (see `check`).
    """
    return check(d, ctx).render(d, ctx)


__all__ = ["REGISTRY", "Context", "DirectiveSpec", "Registry", "Renderer", "check", "directive", "render"]
