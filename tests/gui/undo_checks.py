"""Checks for the undo GUI tests (test_crowd_undo*.py): File > Import and Edit > Undo/Redo
run in the window's context, and what an artist would look at: which images an avatar's
materials use, whether they have pixels, are packed and shared, and the .blend's datablocks.

Import this after ``guitest.enable_addon`` (enabling may reload the add-on's package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import guitest as gt

from avatar_importer.blender.importing import importer
from avatar_importer.blender.importing.image_share import SHARE_KEY

FACE = "AvatarHeadFemale_Color_1K.png"  # beside the model: each avatar's own texture
view = gt.View3D()


# --- what the artist sees ----------------------------------------------------------------


def window_override() -> Any:
    return bpy.context.temp_override(window=view.window, screen=view.window.screen,
                                     area=view.area, region=view.main)


def file_import(glb: Path, name: str) -> set[str]:
    """File > Import > Avatar export, run as the file browser runs it: exec, undo push."""
    with window_override():
        try:
            result = set(bpy.ops.import_scene.avatar_export(
                "EXEC_DEFAULT", True, filepath=str(glb), avatar_name=name))
        except RuntimeError as exc:  # bpy.ops raises for an operator's ERROR report
            gt.log(f"File > Import {name} reported an error: {exc}")
            result = {"ERROR REPORTED"}
    gt.log(f"File > Import {name}: {result}")
    return result


def edit(action: str) -> None:
    with window_override():
        op = bpy.ops.ed.undo if action == "undo" else bpy.ops.ed.redo
        gt.check(op.poll(), f"Edit > {action.title()} is not available")
        result = op()
    gt.check(result == {"FINISHED"}, f"ed.{action} returned {result}")
    gt.log(f"Edit > {action.title()}: {result}")


def node_images(collection: str) -> dict[tuple[str, str], str]:
    """(material, node) -> image name, for every image node of the avatar's materials."""
    out: dict[tuple[str, str], str] = {}
    coll = bpy.data.collections.get(collection)
    gt.check(coll is not None, f"no collection {collection}")
    for obj in coll.all_objects:
        for slot in obj.material_slots:
            if slot.material is None or slot.material.node_tree is None:
                continue
            for node in slot.material.node_tree.nodes:
                image = getattr(node, "image", None)
                if image is not None:
                    out[(slot.material.name, node.name)] = image.name
    return out


def by_file(collection: str) -> dict[str, str]:
    """File name -> image name, for the images the avatar's materials use."""
    return {Path(bpy.data.images[img].filepath).name: img
            for img in node_images(collection).values()}


def image_state() -> dict[str, tuple[Any, ...]]:
    """Every image: (file name, packed, share key, packed bytes' length)."""
    return {img.name: (Path(img.filepath).name, img.packed_file is not None,
                       img.get(SHARE_KEY),
                       img.packed_file.size if img.packed_file is not None else 0)
            for img in bpy.data.images}


def scene_state() -> dict[str, Any]:
    return {"counts": gt.data_counts(),
            "collections": sorted(c.name for c in bpy.data.collections),
            "objects": sorted(o.name for o in bpy.data.objects),
            "materials": sorted(m.name for m in bpy.data.materials),
            "images": image_state()}


def differences(now: Any, expected: Any) -> Any:
    """What differs, briefly: for dicts, {key: (expected, now)}; for lists, (gone, new)."""
    if isinstance(now, dict) and isinstance(expected, dict):
        return {k: (expected.get(k), now.get(k)) for k in sorted({*now, *expected})
                if now.get(k) != expected.get(k)}
    if isinstance(now, list) and isinstance(expected, list):
        return {"gone": sorted(set(expected) - set(now)), "new": sorted(set(now) - set(expected))}
    return (expected, now)


def check_same(now: dict[str, Any], expected: dict[str, Any], when: str) -> None:
    for key in expected:
        gt.check(now[key] == expected[key],
                 f"{when}: {key} differ (expected, now): {differences(now[key], expected[key])}")


def check_pixels(collection: str, when: str) -> None:
    """Every image the avatar's materials use has pixels, before and after a reload, is
    packed, and the shared ones carry their key."""
    for file, name in sorted(by_file(collection).items()):
        image = bpy.data.images[name]
        gt.check(image.packed_file is not None, f"{when}: {name} ({file}) is not packed")
        gt.check(tuple(image.size) != (0, 0) and image.has_data,
                 f"{when}: {name} ({file}) has no pixels: size {tuple(image.size)}")
        image.reload()
        gt.check(image.size[0] > 0 and image.size[1] > 0 and len(image.pixels) > 0,
                 f"{when}: {name} ({file}) has no pixels after reload")
        if file != FACE:
            gt.check(isinstance(image.get(SHARE_KEY), str),
                     f"{when}: shared image {name} ({file}) lost its share key")


def check_report(collection: str, when: str) -> None:
    """The import report stored with the avatar names exactly the images it uses."""
    report = importer.stored_report(bpy.data.collections[collection])
    gt.check(report is not None, f"{when}: {collection} has no stored report")
    named = {info["name"] for info in report["images"]}
    used = set(node_images(collection).values())
    gt.check(named == used, f"{when}: {collection}'s report names other images than it "
             f"uses: report only {sorted(named - used)}, nodes only {sorted(used - named)}")


def check_shared(a: str, b: str, when: str) -> None:
    """B's static textures are A's image datablocks; each avatar has its own face; one
    image per distinct static file in the whole .blend."""
    files_a, files_b = by_file(a), by_file(b)
    gt.check(set(files_a) == set(files_b) and FACE in files_a and len(files_a) >= 10,
             f"{when}: the avatars use different files: {sorted(files_a)} / {sorted(files_b)}")
    for file in files_a:
        if file == FACE:
            gt.check(files_a[file] != files_b[file], f"{when}: {a} and {b} share the face")
        else:
            gt.check(files_a[file] == files_b[file],
                     f"{when}: {file} is {files_a[file]} for {a} but {files_b[file]} for {b}")
    per_file: dict[str, list[str]] = {}
    for img in bpy.data.images:
        if img.source == "FILE" and Path(img.filepath).name != FACE:
            per_file.setdefault(Path(img.filepath).name, []).append(img.name)
    doubles = {f: names for f, names in per_file.items() if len(names) > 1}
    gt.check(not doubles, f"{when}: more than one image for a static file: {doubles}")
