"""Calling conventions as plain data: the canonical signature (challenge.toml) versus the found one.

Runs in the trusted process on plain lists that the worker reports before any test runs
(`params`: [name, kind, has_default] per parameter). Pure: no imports of solution code.
"""
from __future__ import annotations

import ast
import inspect

KINDS = {
    "positional_only": inspect.Parameter.POSITIONAL_ONLY,
    "positional_or_keyword": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "var_positional": inspect.Parameter.VAR_POSITIONAL,
    "keyword_only": inspect.Parameter.KEYWORD_ONLY,
    "var_keyword": inspect.Parameter.VAR_KEYWORD,
}
_POSITIONAL = ("positional_only", "positional_or_keyword")
_NO_DEFAULT = object()


def params_of(fn) -> list[list] | None:
    """[name, kind, has_default] for each parameter of fn; None when it has no signature."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name.lower(), p.default is not inspect.Parameter.empty] for p in sig.parameters.values()]


def parse_canonical(signature: str) -> list[list] | None:
    """params of a challenge.toml signature such as "f(x, k=3) -> y"; None when it does not parse."""
    head = signature.split("->", 1)[0].strip()
    if "(" not in head or not head.endswith(")"):
        return None
    name = head[: head.index("(")].strip() or "f"
    try:
        tree = ast.parse(f"def {name}{head[head.index('('):]}: pass")
    except SyntaxError:
        return None
    a = tree.body[0].args
    out: list[list] = []
    positional = [*a.posonlyargs, *a.args]
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        kind = "positional_only" if i < len(a.posonlyargs) else "positional_or_keyword"
        out.append([arg.arg, kind, i >= first_default])
    if a.vararg:
        out.append([a.vararg.arg, "var_positional", False])
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append([arg.arg, "keyword_only", default is not None])
    if a.kwarg:
        out.append([a.kwarg.arg, "var_keyword", False])
    return out


def _valid(params) -> bool:
    return isinstance(params, list) and all(
        isinstance(p, list) and len(p) == 3 and isinstance(p[0], str) and p[1] in KINDS and isinstance(p[2], bool)
        for p in params)


def render(name: str, params) -> str:
    """A signature as text, e.g. ``f(a, b=..., *args, **kw)``, from ``[name, kind, has_default]`` parameters."""
    parts = []
    for pname, kind, has_default in params:
        prefix = "*" if kind == "var_positional" else "**" if kind == "var_keyword" else ""
        parts.append(f"{prefix}{pname}{'=...' if has_default else ''}")
    return f"{name}({', '.join(parts)})"


def differences(canonical, found) -> list[str]:
    """What in the found signature makes canonical calls fail or mean something else; [] when
    the canonical call binds with the same meaning (renamed parameters at the same place are fine)."""
    if not _valid(canonical) or not _valid(found):
        return []
    if any(k == "var_positional" for _, k, _ in found):
        return []  # *args: any order goes; binding per call still checks
    canon_pos = [p for p in canonical if p[1] in _POSITIONAL]
    canon_required = [p for p in canon_pos if not p[2]]
    found_pos = [p for p in found if p[1] in _POSITIONAL]
    found_index = {p[0]: i for i, p in enumerate(found_pos)}
    out = []
    for i, (name, _, _) in enumerate(canon_required):
        j = found_index.get(name)
        if j is not None and j != i:
            out.append(f"{name} is argument {j + 1} here, {i + 1} in the canonical API")
    if len(found_pos) < len(canon_required):
        out.append(f"takes {len(found_pos)} positional arguments, the canonical call passes {len(canon_required)}")
    canon_names = {p[0] for p in canonical}
    for i, (name, kind, has_default) in enumerate(found_pos):
        if not has_default and i >= len(canon_required) and name not in canon_names:
            out.append(f"requires argument {name}, which the canonical API does not have")
    for name, kind, has_default in found:
        if kind == "keyword_only" and not has_default and name not in canon_names:
            out.append(f"requires keyword argument {name}, which the canonical API does not have")
    return out


def bind_error(found, args_count: int, kwargs: list[str]) -> str | None:
    """Why a call with args_count positional arguments and these keyword names does not bind
    to the found parameters (None when it binds or the parameters are unknown)."""
    if not _valid(found):
        return None
    params = []
    seen_default = False
    for name, kind, has_default in found:
        k = KINDS[kind]
        if k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            # inspect refuses a non-default after a default; only happens with odd reports.
            has_default = has_default or seen_default
            seen_default = seen_default or has_default
        default = None if has_default and k not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) \
            else inspect.Parameter.empty
        try:
            params.append(inspect.Parameter(name, k, default=default))
        except ValueError:
            return None
    try:
        sig = inspect.Signature(params)
    except ValueError:
        return None
    try:
        sig.bind(*range(args_count), **{k: None for k in kwargs})
    except TypeError as exc:
        return str(exc)
    return None
