"""GUI test: Blender's own asset catalog service reads the library's catalog file.

bpy offers no catalog lookup headless (every asset-catalog operator's poll fails without an
Asset Browser), so this runs where one exists: Debian's Blender 3.4 in a real window. The
test writes ``blender_assets.cats.txt`` with the add-on's writer (core.asset_catalogs), adds
the folder as an asset library, turns the largest area into an Asset Browser showing it,
creates a catalog under the file's ``Cast`` with Blender's operator and saves the catalogs
(Blender re-reads the file from disk and writes it back merged). Then:

* every catalog the add-on wrote is still there with the same UUID and path (Blender parsed
  every line; an asset's ``catalog_id`` keeps resolving to its path);
* Blender's new catalog went under the add-on's ``Cast`` (it found that path in the file),
  and no second ``Cast`` was made;
* the add-on's writer, run again on Blender's file, returns the same UUIDs and changes
  nothing.

Run: tests/gui/run_gui_tests.sh tests/gui/test_asset_catalogs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guitest as gt

from avatar_importer.core import asset_catalogs

NAME = "test_asset_catalogs"
WORK = gt.temp_dir("avatar-gui-catalogs-")
LIB = WORK / "library"
WANTED = ["Cast/Leads", "Avatars/sandbox/female", "Crowd/Extras"]


def steps() -> gt.Steps:
    ours = asset_catalogs.ensure_catalogs(LIB, WANTED)
    written = {c.path: c.uuid for c in asset_catalogs.read(LIB)}
    gt.check(set(ours.values()) <= set(written.values()), "the writer returned its UUIDs")
    bpy.ops.preferences.asset_library_add(directory=str(LIB))
    library = bpy.context.preferences.filepaths.asset_libraries[-1]
    gt.check(Path(library.path) == LIB, f"asset library added: {library.path}")

    window = bpy.context.window_manager.windows[0]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    area.type = "FILE_BROWSER"
    yield 0.3
    area.ui_type = "ASSETS"
    yield 0.3
    area.spaces.active.params.asset_library_ref = library.name
    yield 1.0
    region = next(r for r in area.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=area, region=region):
        gt.check(bpy.ops.asset.catalog_new.poll(), "the Asset Browser shows the library")
        gt.check(bpy.ops.asset.catalog_new(parent_path="Cast") == {"FINISHED"},
                 "Blender made a catalog under Cast")
    yield 0.3
    with bpy.context.temp_override(window=window, area=area, region=region):
        gt.check(bpy.ops.asset.catalogs_save() == {"FINISHED"}, "Blender saved the catalogs")
    yield 0.2

    text = (LIB / asset_catalogs.CATALOG_FILE).read_text()
    gt.log("catalog file as Blender wrote it:\n" + text)
    after = asset_catalogs.read(LIB)
    by_path = {c.path: c.uuid for c in after}
    for path, ident in written.items():
        gt.check(by_path.get(path) == ident, f"{path} kept its UUID {ident}: {by_path}")
    new = [c for c in after if c.path not in written]
    gt.check(len(new) == 1 and new[0].path.startswith("Cast/"),
             f"one new catalog, under the file's Cast: {new}")
    gt.check([c.path for c in after].count("Cast") == 1, "no second Cast")
    again = asset_catalogs.ensure_catalogs(LIB, WANTED)
    gt.check(again == ours, "the writer finds its catalogs in Blender's file")
    gt.check((LIB / asset_catalogs.CATALOG_FILE).read_text() == text,
             "nothing to add: Blender's file is left as it is")


gt.run(steps, name=NAME, time_limit=60.0)
