"""Static look at a solution's own tests: what is a test, and how many assertions it makes.

Only the AST is read; nothing is imported or executed here.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ASSERT_CALL_NAMES = {"raises", "warns", "approx", "deprecated_call", "fail"}


def parse(path: Path) -> ast.Module | None:
    """The file's AST, or None when it cannot be parsed (a solution's file may be anything)."""
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return None


def _is_assert_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name.startswith("assert") or name.startswith("assert_"):
        return True
    # pytest.raises(...), pytest.approx(...)
    return isinstance(func, ast.Attribute) and name in ASSERT_CALL_NAMES and isinstance(func.value, ast.Name) \
        and func.value.id == "pytest"


# Calls after which the rest of a block never runs.
TERMINATING_CALLS = {("pytest", "skip"), ("pytest", "xfail"), ("pytest", "exit"), ("sys", "exit"), ("os", "_exit")}


def count_asserts(node: ast.AST) -> int:
    """Reachable assert statements plus assertion calls (np.testing.assert_*, self.assert*,
    pytest.raises). Code that never runs is not counted: what follows a return, raise,
    break, continue or pytest.skip/sys.exit in its block, and the body of `if False:`
    (or `if 0:`, `while False:`)."""
    if isinstance(node, ast.Module):
        return _block(node.body)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _block(node.body)
    return _stmt(node) if isinstance(node, ast.stmt) else _expr(node)


def _expr(node: ast.AST) -> int:
    return sum(1 for sub in ast.walk(node) if isinstance(sub, ast.Call) and _is_assert_call(sub))


def _terminates(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        f = stmt.value.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            return (f.value.id, f.attr) in TERMINATING_CALLS
        if isinstance(f, ast.Name):
            return f.id in ("exit", "quit")
    return False


def _block(stmts: list[ast.stmt]) -> int:
    n = 0
    for stmt in stmts:
        n += _stmt(stmt)
        if _terminates(stmt):
            break  # the rest of this block is unreachable
    return n


def _constant(test: ast.expr):
    """(True, value) for a constant condition, else (False, None)."""
    if isinstance(test, ast.Constant):
        return True, bool(test.value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Constant):
        return True, not test.operand.value
    return False, None


def _stmt(stmt: ast.stmt) -> int:
    if isinstance(stmt, ast.Assert):
        return 1 + _expr(stmt.test)
    if isinstance(stmt, (ast.If, ast.While)):
        known, value = _constant(stmt.test)
        if known:
            return _block(stmt.body) if value else _block(stmt.orelse)
    n = 0
    for _, value in ast.iter_fields(stmt):
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(i, ast.stmt) for i in items):
            n += _block(items)
            continue
        for item in items:
            if isinstance(item, (ast.excepthandler, ast.match_case)):
                n += _block(item.body) + (_expr(item.guard) if getattr(item, "guard", None) else 0)
            elif isinstance(item, ast.AST):
                n += _expr(item)
    return n


def find_test_functions(tree: ast.Module) -> dict[str, ast.AST]:
    """pytest-style tests of a module: 'test_x' and 'TestClass::test_y' -> node."""
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name.startswith("test"):
                    out[f"{node.name}::{sub.name}"] = sub
    return out


def has_main_block(tree: ast.Module) -> bool:
    """Whether the module has an ``if __name__ == "__main__":`` block (a script that runs its own tests)."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            consts = {n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)}
            if "__name__" in names and "__main__" in consts:
                return True
    return False


def is_pytest_file(path: Path) -> bool:
    """Whether pytest would collect the file by name (``test_*.py`` or ``*_test.py``)."""
    return path.name.startswith("test_") or path.stem.endswith("_test")


def imported_modules(tree: ast.Module) -> set[str]:
    """Top-level names of the modules the code imports absolutely (``a`` for ``import a.b``)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def missing_dependencies(folder: Path, files: list[Path]) -> list[str]:
    """Top-level imports that are neither local, stdlib nor installed for the sandbox."""
    import importlib.util

    local = {p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*") if p.is_dir()}
    missing = set()
    for rel in files:
        if rel.suffix != ".py":
            continue
        tree = parse(folder / rel)
        if tree is None:
            continue
        for name in imported_modules(tree):
            if name in local or name in sys.stdlib_module_names or name == "__future__":
                continue
            try:
                if importlib.util.find_spec(name) is None:
                    missing.add(name)
            except (ImportError, ValueError):
                missing.add(name)
    return sorted(missing)
