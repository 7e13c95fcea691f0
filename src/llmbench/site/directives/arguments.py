"""Argument checking: a directive's arguments against its spec, before its renderer runs.

Every mistake is a contributor's and fails the build with the file, the line, the key at
fault and the valid choices.
"""
from __future__ import annotations

from ..context import Context
from ..data import REFERENCE
from ..markers import Directive
from .registry import DirectiveSpec


def _check_names(ctx: Context, d: Directive, key: str, values, valid: list[str], what: str) -> None:
    for v in values:
        if v not in valid:
            raise ctx.fail(d, f"unknown {what} '{v}' in {key}=; valid {what}s: {', '.join(valid) or '(none)'}")


def check_arguments(spec: DirectiveSpec, d: Directive, ctx: Context) -> None:
    """Check d's arguments against spec and the site's data.

    Args:
        spec: The directive's registered spec.
        d: The directive as written.
        ctx: The page's context: its data holds the valid models, challenges and metrics.

    Raises:
        ContentError: An unknown or missing argument, a list where one value is taken, an
            unknown model, challenge, metric or word, a bad format spec, or a block
            directive used inline. The message names the file, line and key.
    """
    for key in d.args:
        if key not in spec.args:
            raise ctx.fail(d, f"unknown argument '{key}'; valid arguments: {', '.join(spec.args) or '(none)'}")
    for key in spec.required:
        if key not in d.args:
            raise ctx.fail(d, f"missing argument '{key}' (arguments: {', '.join(spec.args)})")
    if d.inline and not spec.inline:
        raise ctx.fail(d, "renders a block: put it on a line of its own")
    data = ctx.data
    models = list(data.models)
    for key, kind in spec.args.items():
        if key not in d.args:
            continue
        values = d.items(key)
        if kind in ("model", "challenge", "text", "metric") and isinstance(d.args[key], tuple):
            raise ctx.fail(d, f"{key}= takes one value, got {', '.join(values)}")
        if kind == "model":
            _check_names(ctx, d, key, values, models + [REFERENCE], "model")
        elif kind == "models":
            _check_names(ctx, d, key, values, models, "model")
        elif kind in ("challenge", "challenges"):
            _check_names(ctx, d, key, values, list(data.challenges), "challenge")
        elif "|" in kind:
            _check_names(ctx, d, key, values, kind.split("|"), f"value of {key}")
    if "metric" in spec.args and "metric" in d.args:
        _check_metric(d, ctx)
    if "format" in d.args:
        try:
            format(1.5, d.text("format"))
        except (ValueError, TypeError):
            raise ctx.fail(d, f"format='{d.text('format')}' is not a Python format spec (e.g. .3g or .2e)") from None


def _check_metric(d: Directive, ctx: Context) -> None:
    data = ctx.data
    cid, metric = d.text("challenge"), d.text("metric")
    if d.text("source", "measured") == "reported":
        valid = data.reported_metrics(cid)
        where = "reported for this challenge (data/study.toml or the solutions' own reports)"
    else:
        valid = data.challenges[cid].metric_names
        where = f"in challenges/{cid}/challenge.toml"
        if not valid and data.reported_metrics(cid):
            where += f"; reported figures need source=reported ({', '.join(data.reported_metrics(cid))})"
    if metric not in valid:
        raise ctx.fail(d, f"unknown metric '{metric}' for challenge '{cid}'; valid metrics {where}: "
                          f"{', '.join(valid) or '(none)'}")


