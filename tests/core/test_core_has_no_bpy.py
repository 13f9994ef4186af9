"""avatar_importer.core and avatar_importer.sandbox must never import bpy.

They run (and are tested) in plain Python, outside Blender. Two independent proofs:

* at run time: a fresh interpreter imports every module of both packages (found with
  pkgutil) behind a meta-path finder that refuses ``bpy`` and Blender's other built-in
  modules, and ``bpy`` must not end up in ``sys.modules``;
* statically: an AST scan of every file finds any ``import bpy`` / ``from bpy ...`` /
  ``importlib.import_module("bpy")``, also inside functions and ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "avatar_importer"
BPY_FREE_PACKAGES = ("core", "sandbox")

# Modules that exist only inside Blender (or its PyPI wheel).
FORBIDDEN = frozenset({
    "bpy", "_bpy", "bpy_types", "bpy_extras", "bmesh", "mathutils", "gpu", "gpu_extras",
    "bgl", "blf", "aud", "idprop", "imbuf", "bl_ui", "bl_operators", "bl_math",
    "addon_utils", "freestyle",
})


def _forbidden(name: str) -> bool:
    return name.split(".", 1)[0] in FORBIDDEN


def _source_files() -> list[Path]:
    files: list[Path] = []
    for pkg in BPY_FREE_PACKAGES:
        files += sorted((PACKAGE_DIR / pkg).rglob("*.py"))
    return files


# Runs in a fresh interpreter. The top-level avatar_importer/__init__.py (the Blender
# entry point, which may import bpy) is bypassed with a bare package object, so that only
# what core/sandbox themselves import is loaded.
_CHILD = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback, types

repo, forbidden, packages = sys.argv[1], set(json.loads(sys.argv[2])), json.loads(sys.argv[3])
attempts = []

class BlockBlender(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".", 1)[0] in forbidden:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<")][-6:]
            attempts.append((fullname, "".join(traceback.format_list(frames))))
            raise ImportError(f"bpy-free code imported Blender module {fullname!r}")
        return None

sys.meta_path.insert(0, BlockBlender())
top = types.ModuleType("avatar_importer")
top.__path__ = [repo + "/avatar_importer"]
sys.modules["avatar_importer"] = top

imported, errors = [], {}
def onerror(name):
    errors[name] = traceback.format_exc(limit=3)

for pkg in packages:
    name = "avatar_importer." + pkg
    try:
        mod = importlib.import_module(name)
    except BaseException:
        errors[name] = traceback.format_exc(limit=3)
        continue
    imported.append(name)
    for info in pkgutil.walk_packages(mod.__path__, name + ".", onerror=onerror):
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except BaseException:
            errors[info.name] = traceback.format_exc(limit=3)

loaded = sorted(m for m in sys.modules if m.split(".", 1)[0] in forbidden)
print(json.dumps({"imported": imported, "errors": errors, "attempts": attempts,
                  "loaded": loaded}))
"""


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_bpy_free_packages_import_without_blender() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(REPO), json.dumps(sorted(FORBIDDEN)),
         json.dumps(BPY_FREE_PACKAGES)],
        capture_output=True, text=True, timeout=120, env=env, cwd=str(REPO), check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    assert not result["attempts"], "Blender modules imported by bpy-free code:\n" + "\n".join(
        f"{name} from:\n{stack}" for name, stack in result["attempts"])
    assert result["loaded"] == [], f"Blender modules in sys.modules: {result['loaded']}"
    assert "bpy" not in result["loaded"]
    assert not result["errors"], "modules failed to import:\n" + "\n".join(
        f"{name}: {err}" for name, err in result["errors"].items())
    # every source file was really imported (pkgutil missed nothing)
    expected = {_module_name(p) for p in _source_files()}
    missing = expected - set(result["imported"])
    assert not missing, f"modules never imported: {sorted(missing)}"
    assert "avatar_importer.core" in result["imported"]


def _blender_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and _forbidden(node.module):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if (fname in {"import_module", "__import__"} and isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str) and _forbidden(arg.value)):
                found.append((node.lineno, arg.value))
    return sorted(found)


def test_no_bpy_import_statements_anywhere() -> None:
    files = _source_files()
    assert files, f"no sources found under {PACKAGE_DIR}"
    offenders = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [f"{path.relative_to(REPO)}:{line}: imports {name}"
                      for line, name in _blender_imports(tree)]
    assert not offenders, "bpy-free packages import Blender modules:\n" + "\n".join(offenders)


def test_scanner_catches_hidden_imports() -> None:
    src = (
        "import os\n"
        "def f():\n    import bpy.types\n"
        "if TYPE_CHECKING:\n    from mathutils import Vector\n"
        "importlib.import_module('bmesh')\n"
        "from . import bpy_helpers\n"
    )
    assert [n for _, n in _blender_imports(ast.parse(src))] == [
        "bpy.types", "mathutils", "bmesh"]
