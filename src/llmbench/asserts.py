"""Static look at a solution's own tests: what is a test, and how many assertions it makes.

Only the AST is read; nothing is imported or executed here.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ASSERT_CALL_NAMES = {"raises", "warns", "approx", "deprecated_call", "fail"}


def parse(path: Path) -> ast.Module | None:
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


def count_asserts(node: ast.AST) -> int:
    """assert statements plus assertion calls (np.testing.assert_*, self.assert*, pytest.raises)."""
    n = 0
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assert):
            n += 1
        elif isinstance(sub, ast.Call) and _is_assert_call(sub):
            n += 1
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
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            consts = {n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)}
            if "__name__" in names and "__main__" in consts:
                return True
    return False


def is_pytest_file(path: Path) -> bool:
    return path.name.startswith("test_") or path.stem.endswith("_test")


def imported_modules(tree: ast.Module) -> set[str]:
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
