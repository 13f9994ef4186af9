"""Blender 3.4: importing an avatar never renames another avatar's images (standalone script).

    blender -b --factory-startup --python-exit-code 1 -P tests/blender34/test_image_names.py

Blender 3.4's glTF importer names each image it makes after its file, and 3.4 gives that
name to the new image and renames the one that held it: every import used to turn the
earlier avatars' shared textures and faces into ``<file>.001``, ``.002``... (a failed import
too), and an avatar's stored import report then named another avatar's face. Here: Ada,
then Bob (his static textures the same files, his face his own), then Cid whose model
breaks inside the glTF importer: Ada's and Bob's materials use images with the names they
had, each avatar's report names exactly the images it uses. (4.x never renamed them; the
Undo/Redo side of this is tests/gui/test_crowd_undo.py.)

No pytest: runs top to bottom, ends with ``image names: PASSED``; any failed assert exits 1.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import bpy

REPO = Path(__file__).resolve().parents[2]
for path in (REPO, REPO / "tests" / "blender"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from avatar_samples import write_sandbox_avatar  # noqa: E402

from avatar_importer.blender.importing.importer import (  # noqa: E402
    import_avatar_glb,
    stored_report,
)
from avatar_importer.core.errors import ImportFailed  # noqa: E402
from avatar_importer.core.glb import read_glb, write_glb  # noqa: E402

FACE = "AvatarHeadFemale_Color_1K.png"
TMP = Path(tempfile.mkdtemp(prefix="avatar-b34-names-"))


def export(source: Path, name: str, *, broken: bool = False) -> Path:
    folder = TMP / name
    folder.mkdir()
    glb = read_glb(source)
    if broken:  # the outfit's vertices run past their buffer: the glTF importer fails
        mesh = next(m for m in glb.json["meshes"] if m["name"] == "outfit")
        glb.json["accessors"][mesh["primitives"][0]["attributes"]["POSITION"]]["count"] \
            = 50_000_000
    write_glb(glb, folder / "model.glb")
    (folder / FACE).write_bytes((source.parent / FACE).read_bytes() + name.encode())
    return folder / "model.glb"


def node_images(collection: str) -> dict[tuple[str, str], str]:
    out = {}
    for obj in bpy.data.collections[collection].all_objects:
        for slot in obj.material_slots:
            for node in slot.material.node_tree.nodes if slot.material else ():
                if getattr(node, "image", None) is not None:
                    out[(slot.material.name, node.name)] = node.image.name
    return out


def check_report(collection: str) -> None:
    report = stored_report(bpy.data.collections[collection])
    assert report is not None, collection
    named = {info["name"] for info in report["images"]}
    used = set(node_images(collection).values())
    assert named == used, (collection, sorted(named ^ used))


def main() -> None:
    source = write_sandbox_avatar(TMP / "src")
    static = {p.name: p for p in source.parent.glob("*.png") if p.name != FACE}
    import_avatar_glb(export(source, "ada"), name="Ada", search=[static])
    ada = node_images("Ada")
    assert any(name == FACE for name in ada.values()), sorted(set(ada.values()))
    import_avatar_glb(export(source, "bob"), name="Bob", search=[static])
    assert node_images("Ada") == ada, "Bob's import renamed Ada's images: " + str(
        sorted({v for k, v in node_images("Ada").items() if ada[k] != v}))
    bob = node_images("Bob")
    shared = {k: v for k, v in bob.items() if not v.startswith(FACE)}
    assert shared and set(shared.values()) <= set(ada.values())  # one image per file
    check_report("Ada")
    check_report("Bob")
    print("Ada keeps her image names after Bob's import", flush=True)
    names = sorted(img.name for img in bpy.data.images)
    try:
        import_avatar_glb(export(source, "cid", broken=True), name="Cid", search=[static])
    except ImportFailed as exc:
        print(f"Cid failed as expected: {exc}", flush=True)
    else:
        raise AssertionError("the broken import of Cid succeeded")
    assert sorted(img.name for img in bpy.data.images) == names, "the failed import " \
        "renamed images: " + str(sorted(set(names) ^ {i.name for i in bpy.data.images}))
    assert node_images("Ada") == ada and node_images("Bob") == bob
    check_report("Ada")
    check_report("Bob")
    print("the failed import of Cid renamed nothing", flush=True)


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
print("image names: PASSED", flush=True)
