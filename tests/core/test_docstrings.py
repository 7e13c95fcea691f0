"""Every public function, class and method of llmbench has a docstring.

mkdocstrings is configured to hide undocumented members (mkdocs.yml: show_if_no_docstring:
false), so an undocumented public name silently drops out of the API reference. Read with
ast: nothing is imported.
"""
from __future__ import annotations

import ast
from pathlib import Path

import llmbench

PACKAGE = Path(llmbench.__file__).parent


def _undocumented(body: list[ast.stmt], prefix: str, where: str) -> list[str]:
    out = []
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        # A property's setter or deleter shares the getter's docstring.
        if any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in node.decorator_list):
            continue
        if ast.get_docstring(node) is None:
            out.append(f"{where}:{node.lineno} {prefix}{node.name}")
        if isinstance(node, ast.ClassDef):
            out += _undocumented(node.body, f"{prefix}{node.name}.", where)
    return out


def undocumented(package: Path = PACKAGE) -> list[str]:
    """``path:line name`` of every public function, class or method (of a public class) without a docstring."""
    out = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        out += _undocumented(tree.body, "", path.relative_to(package.parent).as_posix())
    return out


def test_the_check_finds_a_missing_docstring(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text('def shown():\n    """Doc."""\n\n\ndef bare():\n    pass\n\n\n'
                                'def _private():\n    pass\n\n\nclass C:\n    """Doc."""\n\n'
                                '    def method(self):\n        pass\n\n    def __repr__(self):\n        return ""\n')
    assert undocumented(pkg) == ["pkg/mod.py:5 bare", "pkg/mod.py:16 C.method"]


def test_every_public_function_class_and_method_has_a_docstring():
    missing = undocumented()
    assert not missing, ("public API without a docstring (Google style: a one-line summary, then Args/Returns/"
                         "Raises where a reader needs them):\n" + "\n".join(missing))
