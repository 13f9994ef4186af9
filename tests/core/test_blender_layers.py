"""The Blender layer's one-way stack: registration -> ui -> importing -> compat.

An AST scan of every module under ``avatar_importer/blender/importing`` and
``avatar_importer/blender/library`` (and of ``compat.py``) finds any import of
``avatar_importer.blender.ui``, relative or absolute, also inside functions. Plain Python:
nothing is imported, so it runs without Blender.
"""

from __future__ import annotations

import ast
from pathlib import Path

BLENDER = Path(__file__).resolve().parents[2] / "avatar_importer" / "blender"
PACKAGE = "avatar_importer.blender"


def _module(path: Path) -> str:
    parts = list(path.relative_to(BLENDER.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> set[str]:
    """Absolute names of every module (and ``from X import name`` target) ``path`` imports."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module or ""
            names.add(root)
            names.update(f"{root}.{alias.name}" for alias in node.names)
    return names


def _uses_ui(path: Path) -> list[str]:
    ui = f"{PACKAGE}.ui"
    return sorted(n for n in _imported(path) if n == ui or n.startswith(ui + "."))


def test_lower_layers_never_import_ui() -> None:
    lower = [*sorted((BLENDER / "importing").rglob("*.py")),
             *sorted((BLENDER / "library").rglob("*.py")), BLENDER / "compat.py"]
    assert len(lower) > 5, "blender/importing and blender/library not found"
    bad = {str(p.relative_to(BLENDER)): _uses_ui(p) for p in lower if _uses_ui(p)}
    assert not bad, f"modules below ui/ import ui/: {bad}"


def test_scan_sees_relative_ui_imports() -> None:
    # the scan itself: ui/props.py imports ui siblings relatively, so it must be seen
    assert _uses_ui(BLENDER / "ui" / "props.py")
