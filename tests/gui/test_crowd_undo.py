"""GUI test: Edit > Undo / Redo around File > Import of avatars sharing static textures.

Headless Blender has no undo stack, so this runs in a real window (Debian's Blender 3.4
under Xvfb). What an artist does, in the window's context:

1. File > Import > Avatar export: avatar A (its static textures from the add-on's texture
   cache, its face beside the model), then avatar B whose static textures are the same cache
   files: B's materials use A's image datablocks (one per file), B's face is its own.
   Each import runs as the file browser runs it: ``EXEC_DEFAULT`` with an undo push.
   A keeps her image names and her stored report names her own images (Blender 3.4's
   glTF importer used to rename A's images ``<file>.001`` when B's were made; a failed
   import renamed B's face the same way: ``image_share.names_kept``).
2. Edit > Undo (``ed.undo``): B is gone entirely (collection, objects, meshes, materials,
   its face image) and A is exactly as it was: its image nodes point at the same images,
   each still has pixels (size > 0, also after ``reload``), still packed, still tagged
   with its share key.
3. Edit > Redo: B is back and shares A's images again, one datablock per file.
4. A third import that FAILS inside Blender's glTF importer (one mesh's vertex accessor
   runs past its buffer), after the importer already made materials and images, among them
   copies of the shared static textures: the operator reports an error naming the avatar
   (``bpy.ops`` raises it as RuntimeError), nothing of it remains, A's and B's images are
   untouched. It leaves no undo step: one Undo afterwards removes B (back to A alone).
5. Importing B again after that Undo reuses A's images (the share index does not hold on
   to images the undo replaced).

Run: tests/gui/run_gui_tests.sh tests/gui/test_crowd_undo.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guitest as gt

sys.path.insert(0, str(gt.REPO / "tests" / "blender"))
from avatar_samples import write_sandbox_avatar

from avatar_importer.core.glb import read_glb, write_glb

NAME = "test_crowd_undo"
ART = gt.artifacts_dir(NAME)
WORK = gt.temp_dir("avatar-gui-crowd-undo-")
CACHE = WORK / "cache"
runtime = gt.enable_addon(CACHE)
import undo_checks as uc  # noqa: E402
from undo_checks import (  # noqa: E402
    FACE,
    check_pixels,
    check_report,
    check_same,
    check_shared,
    differences,
    edit,
    file_import,
    node_images,
    scene_state,
)

from avatar_importer.blender.importing import importer  # noqa: E402

BROKEN_MESH = "outfit"  # the mesh whose vertex accessor the failing export breaks
view = uc.view


# --- exports on disk -------------------------------------------------------------------------


def write_export(name: str, *, broken: bool = False) -> Path:
    """``WORK/<name>/model.glb`` with its own face texture beside it; its static textures
    in the add-on's texture cache (``CACHE/static``), shared with every other export.
    ``broken``: one mesh's POSITION accessor claims far more vertices than its buffer
    holds, so Blender's glTF importer fails part way through."""
    source = write_sandbox_avatar(WORK / f"{name}-src")
    folder = WORK / name
    folder.mkdir()
    static = CACHE / "static"
    static.mkdir(parents=True, exist_ok=True)
    for texture in sorted(source.parent.glob("*.png")):
        if texture.name == FACE:
            (folder / FACE).write_bytes(texture.read_bytes() + name.encode())
        elif not (static / texture.name).exists():
            shutil.copy(texture, static / texture.name)
    glb = read_glb(source)
    if broken:
        mesh = next(m for m in glb.json["meshes"] if m["name"] == BROKEN_MESH)
        glb.json["accessors"][mesh["primitives"][0]["attributes"]["POSITION"]]["count"] \
            = 50_000_000
    write_glb(glb, folder / "model.glb")
    return folder / "model.glb"


# --- the rollback, observed ----------------------------------------------------------------

rolled_back: list[dict[str, int]] = []
_remove_created = importer.remove_created


def _recording_remove_created(snapshot: importer.Snapshot) -> None:
    """The importer's own rollback, run as it is; records what it had to remove."""
    rolled_back.append({attr: len(importer.new_since(snapshot, attr))
                        for attr in ("objects", "materials", "images", "meshes")})
    _remove_created(snapshot)


importer.remove_created = _recording_remove_created


# --- the test ------------------------------------------------------------------------------


def steps() -> gt.Steps:
    ada_glb, bob_glb = write_export("ada"), write_export("bob")
    cid_glb = write_export("cid", broken=True)
    yield 0.2
    empty = scene_state()

    gt.check(file_import(ada_glb, "Ada") == {"FINISHED"}, "Ada was not imported")
    yield 0.3
    after_ada = scene_state()
    ada_nodes = node_images("Ada")
    check_pixels("Ada", "after importing Ada")
    check_report("Ada", "after importing Ada")
    unpacked = [img.name for img in bpy.data.images
                if img.source == "FILE" and img.packed_file is None]
    gt.check(not unpacked, f"Ada's images not packed: {unpacked}")

    gt.check(file_import(bob_glb, "Bob") == {"FINISHED"}, "Bob was not imported")
    yield 0.3
    after_bob = scene_state()
    check_shared("Ada", "Bob", "after importing Bob")
    gt.check(len(after_bob["images"]) == len(after_ada["images"]) + 1,
             f"Bob added {len(after_bob['images']) - len(after_ada['images'])} images, "
             "not only his face")
    bob_nodes = node_images("Bob")
    ada_nodes_with_bob = node_images("Ada")
    # Blender 3.4's glTF importer renamed the images Bob's files were named like (Ada's
    # shared textures and face became "<file>.001"): Ada keeps her image names, and her
    # stored import report still names her own images
    gt.check(ada_nodes_with_bob == ada_nodes, "Bob's import renamed Ada's images "
             f"(expected, now): {differences(ada_nodes_with_bob, ada_nodes)}")
    check_report("Ada", "after importing Bob")

    # Edit > Undo: Bob is gone entirely, Ada exactly as she was
    edit("undo")
    yield 0.5
    check_same(scene_state(), after_ada, "after Undo of Bob's import")
    gt.check(node_images("Ada") == ada_nodes, "after Undo: Ada's image nodes changed")
    check_pixels("Ada", "after Undo of Bob's import")

    # Edit > Redo: Bob is back, sharing Ada's images again
    edit("redo")
    yield 0.5
    check_same(scene_state(), after_bob, "after Redo of Bob's import")
    for who, nodes in (("Ada", ada_nodes_with_bob), ("Bob", bob_nodes)):
        gt.check(node_images(who) == nodes, f"after Redo: {who}'s image nodes changed "
                 f"(expected, now): {differences(node_images(who), nodes)}")
    check_shared("Ada", "Bob", "after Redo")
    check_pixels("Ada", "after Redo")
    check_pixels("Bob", "after Redo")

    # a third import fails inside Blender's glTF importer: nothing of it remains
    result = file_import(cid_glb, "Cid")
    from avatar_importer.blender.importing import file_import as fi
    messages = fi.last_messages()
    gt.log(f"File > Import Cid reported: {messages}")
    gt.check(result == {"ERROR REPORTED"}, f"the broken import returned {result}")
    gt.check(any(level == "ERROR" and "Cid" in text for level, text in messages),
             f"no error naming Cid: {messages}")
    gt.check(len(rolled_back) == 1, f"rollbacks recorded: {rolled_back}")
    made = rolled_back[0]
    gt.log(f"the failed import had made, and its rollback removed: {made}")
    gt.check(made["images"] >= 10 and made["materials"] >= 5,
             f"the importer failed before it made materials and images: {made}")
    yield 0.3
    check_same(scene_state(), after_bob, "after the failed import of Cid")
    check_shared("Ada", "Bob", "after the failed import")
    check_pixels("Ada", "after the failed import")
    check_report("Ada", "after the failed import")
    check_report("Bob", "after the failed import")
    check_pixels("Bob", "after the failed import")

    # the failed import left no undo step: one Undo removes Bob
    edit("undo")
    yield 0.5
    check_same(scene_state(), after_ada, "after Undo following the failed import")
    gt.check(node_images("Ada") == ada_nodes, "after the second Undo: Ada's nodes changed")
    check_pixels("Ada", "after the second Undo")

    # importing Bob again reuses Ada's images (nothing stale is remembered)
    gt.check(file_import(bob_glb, "Bob") == {"FINISHED"}, "Bob was not imported again")
    yield 0.3
    check_shared("Ada", "Bob", "after importing Bob again")
    gt.check(len(bpy.data.images) == len(after_ada["images"]) + 1,
             "importing Bob again after Undo made more images than his face")
    check_pixels("Bob", "after importing Bob again")

    # and Undo twice more goes back to the empty scene
    edit("undo")
    yield 0.3
    edit("undo")
    yield 0.3
    check_same(scene_state(), empty, "after undoing both imports")

    importer.remove_created = _remove_created
    gt.disable_addon_and_check(runtime)
    shutil.rmtree(WORK, ignore_errors=True)


gt.run(steps, name=NAME, time_limit=200.0,
       on_failure=lambda: gt.on_failure(view, runtime, ART))
