"""One version: ``blender_manifest.toml``'s ``version`` is the source of truth.

Two copies of it exist because neither can read the manifest:

* ``bl_info["version"]`` in ``avatar_importer/__init__.py``: Blender 3.4-4.1 read it with
  ``ast`` without running the module, so it must be a literal tuple. ``scripts/build.py``
  stamps the manifest's version into the zips anyway, so a release is always right;
* ``[project] version`` in ``pyproject.toml``: ``dynamic = ["version"]`` would need a build
  backend that reads a key of another TOML file (setuptools' ``file:`` takes a whole file,
  ``attr:`` a Python attribute), for a project nobody pip-installs.

So these tests fail when a release bump touches only one of the three. They also check
the manifest rules Blender's ``blender_ext.py validate`` enforces (which the build runs
with each bpy version), so a bad edit fails here too, without Blender.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("avatar_build", REPO / "scripts" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("avatar_build", module)
    spec.loader.exec_module(module)
    return module


def manifest() -> dict:
    with open(REPO / "blender_manifest.toml", "rb") as fh:
        return tomllib.load(fh)


def test_bl_info_and_pyproject_match_the_manifest() -> None:
    build = load_build()
    version = manifest()["version"]
    expected = build.version_tuple(version)
    init = (REPO / "avatar_importer" / "__init__.py").read_text(encoding="utf-8")
    assert build.read_bl_info_version(init) == expected, (
        f"bl_info['version'] in avatar_importer/__init__.py must be {expected} "
        f"(blender_manifest.toml version = {version!r})")
    with open(REPO / "pyproject.toml", "rb") as fh:
        project_version = tomllib.load(fh)["project"]["version"]
    assert project_version == version, (
        f"pyproject.toml [project] version must be {version!r} (blender_manifest.toml)")


def test_build_stamps_only_the_version_literal() -> None:
    build = load_build()
    init = (REPO / "avatar_importer" / "__init__.py").read_text(encoding="utf-8")
    stamped = build.stamp_bl_info_version(init, (12, 34, 5))
    assert build.read_bl_info_version(stamped) == (12, 34, 5)
    changed = [(a, b) for a, b in zip(init.splitlines(), stamped.splitlines(), strict=True)
               if a != b]
    assert len(changed) == 1 and '"version": (12, 34, 5),' in changed[0][1], changed
    assert build.version_tuple("1.2.3-rc1") == (1, 2, 3)


def test_manifest_follows_the_extension_rules() -> None:
    m = manifest()
    for key in ("schema_version", "id", "name", "tagline", "version", "type", "maintainer",
                "license", "blender_version_min"):
        assert m.get(key), key
    assert m["id"] == "avatar_importer" and m["type"] == "add-on"
    assert m["blender_version_min"] == "4.2.0"
    assert m["license"] == ["SPDX:GPL-3.0-or-later"]
    short = {"tagline": m["tagline"], **{f"permissions.{k}": v
                                         for k, v in m["permissions"].items()}}
    for key, text in short.items():
        assert len(text) <= 64, f"{key} is {len(text)} chars (max 64)"
        assert re.search(r"[A-Za-z0-9)\]}]$", text), f"{key} must end in a letter, digit " \
            "or bracket"
    assert set(m["permissions"]) == {"network", "files"}
