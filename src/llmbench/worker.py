"""The sandboxed worker: loads one solution and serves calls to its entry points.

Runs inside the sandbox (never in the trusted process). Talks over its original stdin/
stdout; the solution's own prints go to stderr. Usage:
    python -m llmbench.worker --solution DIR [--adapter DIR] [--support DIR] [--native MODULE:FUNCTION --native-options JSON]
"""
from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import inspect
import json
import os
import resource
import sys
import time
import traceback
import tracemalloc
from pathlib import Path

from . import wire

SKIP_MODULES = ("conftest", "setup", "__main__")


def _is_test_module(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test") or name in SKIP_MODULES


def _is_package(path: Path) -> bool:
    """A folder with __init__.py; False for whatever cannot be looked at (a link into a folder
    the sandbox's uid may not read raises PermissionError, which must not kill the worker)."""
    try:
        return path.is_dir() and (path / "__init__.py").exists()
    except OSError:
        return False


class MissingDependency(Exception):
    """The solution imports a package we do not install: our gap (grey), never the solution's failure."""
    pass


class EntryNotFound(Exception):
    """No module of the solution (or its adapter) defines the entry point."""
    pass


class AmbiguousEntry(Exception):
    """Several of the solution's modules define the entry point: refused, never guessed."""


class MethodMissing(AttributeError):
    """A method our protocol calls is missing on an object the solution returned."""


class LoadFailed(Exception):
    """The module defining the entry point raised while being imported."""


def defining_modules(solution: Path, entry: str, candidates: list[tuple[str, Path]]) -> list[str]:
    """Modules whose top level defines `entry` (def, class or assignment), read from the AST.

    Parsing happens here, in the sandbox: a hostile file can only hurt this worker.
    Re-exports (`from x import entry`) are not definitions.
    """
    import ast

    out = []
    for name, path in candidates:
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
            continue
        for node in tree.body:
            targets = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                targets = [node.name]
            elif isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            if entry in targets:
                out.append(name)
                break
    return out


class SolutionLoader:
    """Finds canonical entry points: adapter.py, then adapter.toml mapping, then a search."""

    def __init__(self, solution: Path, adapter: Path | None, mapping: dict[str, str], native=None,
                 support: Path | None = None, native_options: dict | None = None):
        """Args:
            solution: The worker's copy of the solution.
            adapter: The adapter's folder (adapter.py, or compiled sources), or None.
            mapping: adapter.toml's ``[entry_points]``: entry -> ``module.attr``.
            native: The kind's native loader (a callable, resolved before the solution's
                folder is on sys.path), or None: entry points are Python attributes.
            support: The folder with the challenge's files the worker received.
            native_options: The challenge's kind table, for the native loader.
        """
        self.solution, self.adapter, self.mapping = solution, adapter, mapping
        self.native, self.support, self.native_options = native, support, native_options or {}
        self.modules: dict[str, object] = {}
        self.import_errors: dict[str, str] = {}
        self.missing: set[str] = set()
        self._native: dict | None = None
        self.resolved: dict[str, object] = {}
        sys.path.insert(0, str(solution))
        self.local_names = {p.stem for p in solution.glob("*.py")} | {
            p.name for p in solution.iterdir() if _is_package(p)
        }

    def _import(self, name: str, path: Path | None = None):
        if name in self.modules:
            return self.modules[name]
        try:
            if path is not None:
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")[0]
            if top and top not in self.local_names:
                self.missing.add(top)
            self.import_errors[name] = f"ModuleNotFoundError: {exc}"
            return None
        except BaseException as exc:  # noqa: BLE001 - the solution may raise anything at import
            if isinstance(exc, SystemExit):
                self.import_errors[name] = f"called sys.exit({exc.code}) at import"
            else:
                self.import_errors[name] = f"{type(exc).__name__}: {exc}"
            return None
        self.modules[name] = module
        return module

    def resolve(self, entry: str):
        """The callable behind a canonical entry point, found once and cached.

        Cached because a solution may make its own folder unreadable after the first call; a
        failure is cached too and raised again.

        Raises:
            EntryNotFound: No module defines it.
            MissingDependency: The module defining it imports a package we do not install.
            AmbiguousEntry: Several modules define it.
            LoadFailed: The solution's code raised while loading.
        """
        # Cached: a solution may make its own folder unreadable after the first call.
        if entry not in self.resolved:
            try:
                self.resolved[entry] = self._resolve(entry)
            except (EntryNotFound, MissingDependency, AmbiguousEntry, LoadFailed) as exc:
                self.resolved[entry] = exc
        found = self.resolved[entry]
        if isinstance(found, BaseException):
            raise found
        return found

    def _resolve(self, entry: str):
        if self.native is not None:
            if self._native is None:
                self._native = self.native(self.solution, self.adapter, self.support, self.native_options)
            if entry in self._native:
                return self._native[entry]
            raise EntryNotFound(f"entry point {entry} not found in the compiled library")
        looked = []
        if self.adapter is not None and (self.adapter / "adapter.py").exists():
            module = self._import("llmbench_adapter", self.adapter / "adapter.py")
            looked.append("adapter.py")
            if module is not None and hasattr(module, entry):
                return getattr(module, entry)
        if entry in self.mapping:
            target = self.mapping[entry].replace(":", ".")
            # "module.Class.method" or "pkg.module.attr": import the longest importable prefix.
            parts = target.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                module = self._import(".".join(parts[:cut]))
                if module is not None:
                    obj = module
                    try:
                        for name in parts[cut:]:
                            obj = getattr(obj, name)
                        return obj
                    except AttributeError:
                        break
            looked.append(f"adapter.toml mapping {self.mapping[entry]}")
        candidates = []
        for path in sorted(self.solution.rglob("*.py")):
            rel = path.relative_to(self.solution)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            if _is_test_module(path.stem) or len(rel.parts) > 2:
                continue
            name = ".".join(rel.with_suffix("").parts)
            if name.endswith(".__init__"):
                name = name[: -len(".__init__")]
            candidates.append((name, path))
        definers = defining_modules(self.solution, entry, candidates)
        if len(definers) > 1:
            files = [str(p.relative_to(self.solution)) for n, p in candidates if n in definers]
            raise AmbiguousEntry(f"{entry} is defined in {len(files)} modules ({', '.join(files)}); "
                                 f"say which in adapters/<model>/<challenge>/adapter.toml "
                                 f"([entry_points] {entry} = \"module.{entry}\")")
        if definers:
            module = self._import(definers[0])
            if module is not None and callable(getattr(module, entry, None)):
                return getattr(module, entry)
            if module is None and definers[0] in self.import_errors and not self.missing:
                raise LoadFailed(f"{definers[0]}: {self.import_errors[definers[0]]}")
        for name, path in candidates:
            looked.append(str(path.relative_to(self.solution)))
            module = self._import(name)
            if module is not None and callable(getattr(module, entry, None)):
                return getattr(module, entry)
        if self.missing:
            raise MissingDependency(", ".join(sorted(self.missing)))
        where = ", ".join(looked) or "no Python files"
        errors = "; ".join(f"{k}: {v}" for k, v in self.import_errors.items())
        raise EntryNotFound(
            f"entry point {entry} not found (looked in {where}"
            + (f"; import errors: {errors}" if errors else "")
            + "); map it in adapters/<model>/<challenge>/adapter.toml"
        )


class Worker:
    """Serves the trusted side's requests on one loaded solution: calls, attributes, handles.

    Objects that cannot cross the wire stay here, named by an integer handle.
    """
    def __init__(self, loader: SolutionLoader, support: Path | None):
        self.loader = loader
        self.support = support
        self.objects: dict[int, object] = {}
        self.next_id = 1
        self.supplied: dict[int, object] = {}  # objects built from our specs (kept alive: ids stay unique)
        self.notify = lambda header: None  # writes an interim message to the trusted side

    # -- handles and specs --------------------------------------------------------------
    def to_handle(self, obj) -> tuple[int, str]:
        """Keep an object here and return its handle and type name, which the trusted side sees instead."""
        hid = self.next_id
        self.next_id += 1
        self.objects[hid] = obj
        return hid, type(obj).__name__

    def from_handle(self, hid: int, _type: str):
        """The object behind a handle.

        Raises:
            wire.ProtocolError: Unknown handle.
        """
        if hid not in self.objects:
            raise wire.ProtocolError(f"unknown handle {hid}")
        return self.objects[hid]

    def build_spec(self, cls: str, params: dict):
        """Build an object the suite describes (``remote(...)``) with a factory from the challenge's support.py.

        Raises:
            wire.ProtocolError: The challenge has no support.py, or it lacks the factory.
        """
        if self.support is None:
            raise wire.ProtocolError("this challenge has no support.py for remote(...) helpers")
        if str(self.support) not in sys.path:
            sys.path.insert(0, str(self.support))
        module = importlib.import_module("support")
        factory = getattr(module, cls, None)
        if factory is None:
            raise wire.ProtocolError(f"support.py has no {cls}")
        obj = factory(**params)
        self.supplied[id(obj)] = obj
        return obj

    # -- calling --------------------------------------------------------------------------
    def decode_args(self, header, blobs):
        """Decode a call's positional and keyword arguments from the request."""
        args = wire.decode(header.get("args", []), blobs, self.from_handle, self.build_spec)
        kwargs = wire.decode(header.get("kwargs", {"$t": "dict", "v": []}), blobs, self.from_handle, self.build_spec)
        return args, kwargs

    def measured(self, fn, args, kwargs, measure: bool):
        """Call fn; with measure, also tracemalloc's peak: self-reported (the solution can stop
        the tracer), kept for reference only. The figures verdicts use are taken by the trusted
        side from outside this process (conformance.client.MemoryMeter)."""
        if not measure:
            start = time.perf_counter()
            value = fn(*args, **kwargs)
            return value, {"seconds": time.perf_counter() - start}
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        start = time.perf_counter()
        try:
            value = fn(*args, **kwargs)
        finally:
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else base
            tracemalloc.stop()
        return value, {"seconds": seconds, "peak_bytes": int(max(0, peak - base))}

    def probe(self, entry: str) -> dict:
        """Where the entry point is and its parameters, or why it cannot be used (plain data)."""
        from .signature import params_of

        kinds = ((EntryNotFound, "entry_missing"), (MissingDependency, "missing_dependency"),
                 (AmbiguousEntry, "ambiguous_entry"), (LoadFailed, "load_error"))
        try:
            fn = self.loader.resolve(entry)
        except tuple(k for k, _ in kinds) as exc:
            kind = next(name for cls, name in kinds if isinstance(exc, cls))
            return {"found": False, "failure": kind, "message": str(exc)[:2000]}
        where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', entry)}"
        return {"found": True, "where": where[:300], "params": params_of(fn)}

    def protocol_gap(self, exc: BaseException, op: str, header: dict) -> str | None:
        """A failure at the boundary of our protocol, described; None when it is the solution's own.

        An attribute missing on an object we supplied (the model) or a method missing on an
        object the solution returned means the calling conventions differ.
        """
        if not isinstance(exc, AttributeError):
            return None
        obj = getattr(exc, "obj", None)
        if obj is not None and id(obj) in self.supplied and self.supplied[id(obj)] is obj:
            return (f"the solution uses {type(obj).__name__}.{getattr(exc, 'name', '?')}, which the "
                    f"challenge's model interface does not have")
        if isinstance(exc, MethodMissing):
            return str(exc)
        return None

    def handle(self, header: dict, blobs: list[bytes]):
        """Answer one request (``ping``, ``probe``, ``has``, ``accepts``, ``call``, ``attr``, ...).

        Args:
            header: The request's JSON header; ``op`` names the operation.
            blobs: The request's binary payloads (array data).

        Returns:
            The response header and its blobs.
        """
        op = header.get("op")
        if op == "ping":
            return {"ok": True, "value": "pong"}, []
        if op == "probe":
            return {"ok": True, "value": wire.encode(self.probe(str(header.get("entry", ""))), [])}, []
        if op == "has":
            try:
                self.loader.resolve(header["entry"])
                return {"ok": True, "value": True}, []
            except (EntryNotFound, MissingDependency):
                return {"ok": True, "value": False}, []
        if op == "accepts":
            fn = self.loader.resolve(header["entry"])
            try:
                params = inspect.signature(fn).parameters
            except (TypeError, ValueError):
                return {"ok": True, "value": True}, []
            ok = header["kwarg"] in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
            return {"ok": True, "value": ok}, []
        if op == "release":
            self.objects.pop(int(header["handle"]), None)
            return {"ok": True, "value": None}, []
        if op == "attr":
            obj = self.from_handle(int(header["handle"]), "")
            value = getattr(obj, header["name"])
            out_blobs: list[bytes] = []
            return {"ok": True, "value": wire.encode(value, out_blobs, self.to_handle)}, out_blobs
        if op == "fetch":  # the value a measured call kept here
            value = self.objects.pop(int(header["handle"]), None)
            out_blobs = []
            return {"ok": True, "value": wire.encode(value, out_blobs, self.to_handle)}, out_blobs
        if op in ("call", "method"):
            args, kwargs = self.decode_args(header, blobs)
            if op == "call":
                fn = self.loader.resolve(header["entry"])
            else:
                target = self.from_handle(int(header["handle"]), "")
                try:
                    fn = getattr(target, header["name"])
                except AttributeError:
                    raise MethodMissing(f"the {type(target).__name__} the solution returned has no method "
                                        f"{header['name']!r}") from None
            measure = bool(header.get("measure_memory"))
            if measure:
                # The trusted side measures the process from outside: it takes its baseline
                # when told that the inputs are decoded, and the value stays here (no encoding
                # copies inside the measured window) until it fetches it.
                gc.collect()
                self.notify({"ok": True, "started": True})
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            value, stats = self.measured(fn, args, kwargs, measure)
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            stats["rss_delta_bytes"] = int(max(0, rss_after - rss_before) * 1024)
            stats["output_bytes"] = int(_nbytes(value))
            if measure:
                hid, name = self.to_handle(value)
                return {"ok": True, "value": {"$t": "handle", "id": hid, "type": name}, "kept": hid,
                        "stats": stats}, []
            out_blobs = []
            return {"ok": True, "value": wire.encode(value, out_blobs, self.to_handle), "stats": stats}, out_blobs
        raise wire.ProtocolError(f"unknown op {op!r}")


def _nbytes(value, depth=0) -> int:
    import numpy as np

    if depth > 20:
        return 0
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v, depth + 1) for v in value.values())
    return 0


def error_response(exc: BaseException, protocol: str | None = None) -> dict:
    """The response that reports an exception to the trusted side, classified by ``kind``.

    Args:
        exc: What the solution (or loading it) raised.
        protocol: When set, the call did not fit our calling convention: a ``protocol_mismatch`` with this message.

    Returns:
        A response header: ``missing_dependency``, ``not_found``, ``protocol`` or ``exception``
        (with a truncated traceback) in ``kind``. A hostile ``__str__`` cannot break it.
    """
    if protocol:
        return {"ok": False, "kind": "protocol_mismatch", "type": type(exc).__name__, "message": protocol}
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return {"ok": False, "kind": "missing_dependency", "type": "ModuleNotFoundError",
                "message": str(exc.name).split(".")[0]}
    if isinstance(exc, MissingDependency):
        return {"ok": False, "kind": "missing_dependency", "type": "MissingDependency", "message": str(exc)}
    if isinstance(exc, EntryNotFound):
        return {"ok": False, "kind": "not_found", "type": "EntryNotFound", "message": str(exc)}
    if isinstance(exc, wire.ProtocolError):
        return {"ok": False, "kind": "protocol", "type": "ProtocolError", "message": str(exc)}
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a hostile __str__
        message = "<unprintable>"
    return {"ok": False, "kind": "exception", "type": type(exc).__name__, "message": message[:4000],
            "traceback": "".join(tb)[-8000:]}


def native_loader(spec: str):
    """The function named by ``llmbench.<module>:<function>`` (only llmbench's own modules,
    imported before the solution's folder is on sys.path, so nothing there can shadow them)."""
    module_name, _, attr = spec.partition(":")
    if not module_name.startswith("llmbench.") or not attr:
        raise SystemExit(f"--native must name a function of an llmbench module, not {spec!r}")
    return getattr(importlib.import_module(module_name), attr)


def main(argv: list[str] | None = None) -> None:
    """Run the worker: load the solution named on the command line and serve requests until stdin closes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--solution", required=True)
    ap.add_argument("--adapter")
    ap.add_argument("--support")
    ap.add_argument("--native", help="MODULE:FUNCTION of llmbench that loads compiled entry points")
    ap.add_argument("--native-options", default="{}", help="the challenge's kind table, as JSON")
    ap.add_argument("--map", action="append", default=[], help="ENTRY=module.attr")
    opts = ap.parse_args(argv)
    # The protocol owns the original stdin/stdout; the solution's prints go to stderr.
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    mapping = dict(item.split("=", 1) for item in opts.map)
    native = native_loader(opts.native) if opts.native else None
    loader = SolutionLoader(Path(opts.solution), Path(opts.adapter) if opts.adapter else None, mapping, native,
                            Path(opts.support) if opts.support else None, json.loads(opts.native_options))
    worker = Worker(loader, Path(opts.support) if opts.support else None)
    worker.notify = lambda header: wire.write_message(proto_out, header, [])
    os.chdir(opts.solution)
    wire.write_message(proto_out, {"ok": True, "value": "ready"}, [])
    while True:
        try:
            header, blobs = wire.read_message(proto_in)
        except EOFError:
            return
        try:
            response, out_blobs = worker.handle(header, blobs)
        except BaseException as exc:  # noqa: BLE001 - report everything, including SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            try:
                gap = worker.protocol_gap(exc, str(header.get("op")), header)
            except Exception:  # noqa: BLE001 - a hostile exception object
                gap = None
            response, out_blobs = error_response(exc, gap), []
        try:
            wire.write_message(proto_out, response, out_blobs)
        except (ValueError, TypeError) as exc:
            wire.write_message(proto_out, error_response(wire.ProtocolError(f"result not sendable: {exc}")), [])


if __name__ == "__main__":
    main()
