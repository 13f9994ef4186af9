"""The add-on never writes into its own folder: no ``__file__`` (nor ``__path__``,
``__spec__``, ``importlib.resources``) is used to build a path.

An installed extension's folder is replaced on every update and may be read-only (system
repositories, site installs): writable data goes to the cache (``extension_path_user``, see
``blender/runtime.py``). The simplest rule that guarantees it: the package never locates
itself on disk at all. A read-only use (e.g. a bundled data file) would need an entry in
``ALLOWED_READS`` with its reason; there is none. The install tests
(tests/blender/test_install_extension.py, tests/blender34/test_legacy_install.py) also
compare the installed folder's files before and after importing an avatar.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "avatar_importer"

#: module dunders that locate the package on disk
LOCATORS = frozenset({"__file__", "__path__", "__spec__", "__loader__", "__cached__"})
LOCATOR_MODULES = ("importlib.resources", "pkgutil", "importlib_resources")
#: "relative/path.py:LINE" -> why this is only a read. Empty: nothing locates itself.
ALLOWED_READS: dict[str, str] = {}


def locator_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) of every expression that finds the module's own location."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in LOCATORS:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute) and node.attr in LOCATORS:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Constant) and node.value in LOCATORS:
            found.append((node.lineno, repr(node.value)))  # getattr(mod, "__file__")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{n}" for n in names] + [node.module or ""]
            for name in names:
                if name.startswith(LOCATOR_MODULES):
                    found.append((node.lineno, f"import {name}"))
    return found


def test_detector_finds_every_form() -> None:
    sample = "\n".join([
        "import os",
        "p = os.path.dirname(__file__)",
        "from pathlib import Path; q = Path(__file__).parent / 'cache'",
        "import sys; r = sys.modules[__name__].__file__",
        "s = getattr(sys.modules[__name__], '__file__')",
        "t = __path__[0]",
        "from importlib import resources",
        "import importlib.resources",
        "u = __spec__.origin",
    ])
    lines = {line for line, _ in locator_uses(sample)}
    assert lines == {2, 3, 4, 5, 6, 7, 8, 9}, locator_uses(sample)


def test_package_never_locates_itself_on_disk() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) > 20, files
    offenders = []
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        for line, what in locator_uses(path.read_text(encoding="utf-8")):
            if f"{rel}:{line}" not in ALLOWED_READS:
                offenders.append(f"{rel}:{line}: {what}")
    assert not offenders, ("the add-on must not derive paths from its own location (write "
                           "to the cache instead; a pure read needs an ALLOWED_READS entry): "
                           + "; ".join(offenders))


def test_allow_list_is_current() -> None:
    for entry in ALLOWED_READS:
        rel, _, line = entry.rpartition(":")
        uses = locator_uses((REPO / rel).read_text(encoding="utf-8"))
        assert int(line) in {n for n, _ in uses}, f"stale ALLOWED_READS entry {entry}"
