"""Crowds in one .blend, in real Blender: shared static textures are one image datablock,
packed once; a failed import leaves other avatars' images alone; a .blend reopened from disk
is matched too; earlier avatars look exactly as before after the next import."""

from __future__ import annotations

import shutil
from pathlib import Path

import bpy
import pytest
from avatar_samples import write_sandbox_avatar

from avatar_importer.blender.importing.image_share import SHARE_KEY
from avatar_importer.blender.importing.importer import import_avatar_glb
from avatar_importer.core.errors import ImportFailed

FACE = "AvatarHeadFemale_Color_1K.png"  # kept beside the model: the avatar's own texture


def export_with_cache(root: Path, name: str, cache: Path) -> tuple[Path, dict[str, Path]]:
    """An export folder holding the model and its face texture, its static textures in the
    shared ``cache`` folder (as the static-resource cache holds them); the search mapping."""
    source = write_sandbox_avatar(root / f"{name}-src")
    folder = root / name
    folder.mkdir()
    shutil.copy(source, folder / "model.glb")
    cache.mkdir(exist_ok=True)
    mapping: dict[str, Path] = {}
    for texture in sorted(source.parent.glob("*.png")):
        if texture.name == FACE:
            (folder / FACE).write_bytes(texture.read_bytes() + f"{name}".encode())
            continue
        target = cache / texture.name
        if not target.exists():
            shutil.copy(texture, target)
        mapping[texture.name] = target
    return folder / "model.glb", mapping


def images_of(collection: str) -> dict[str, bpy.types.Image]:
    """Material node images of an avatar, by the file name they were made from."""
    out: dict[str, bpy.types.Image] = {}
    for obj in bpy.data.collections[collection].all_objects:
        for slot in obj.material_slots:
            for node in slot.material.node_tree.nodes if slot.material else ():
                image = getattr(node, "image", None)
                if image is not None:
                    out[Path(image.filepath).name] = image
    return out


def file_images() -> list[bpy.types.Image]:
    return [img for img in bpy.data.images if img.source == "FILE"]


def test_two_avatars_share_each_static_image_and_the_blend_holds_it_once(
        tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ada_glb, ada_map = export_with_cache(tmp_path, "ada", cache)
    bob_glb, bob_map = export_with_cache(tmp_path, "bob", cache)
    ada = import_avatar_glb(ada_glb, name="Ada", search=[ada_map])
    images_after_one = len(bpy.data.images)
    bob = import_avatar_glb(bob_glb, name="Bob", search=[bob_map])

    ada_images, bob_images = images_of("Ada"), images_of("Bob")
    assert set(ada_images) == set(bob_images) and FACE in ada_images
    for name, image in ada_images.items():
        if name == FACE:  # each avatar keeps its own face
            assert bob_images[name] != image
        else:  # one datablock for both avatars
            assert bob_images[name] == image, name
    assert len(bpy.data.images) == images_after_one + 1  # only Bob's face is new
    shared = [i for i in bob.images if i.get("shared")]
    assert shared and all(i["source"] == "cache" for i in shared)
    # materials stay per avatar: recolouring one does not recolour the other
    ada_mats = {s.material for o in bpy.data.collections["Ada"].all_objects
                for s in o.material_slots}
    bob_mats = {s.material for o in bpy.data.collections["Bob"].all_objects
                for s in o.material_slots}
    assert ada_mats and not ada_mats & bob_mats

    # packed once: one packed image per cache file used, plus the two faces
    packed = [bytes(img.packed_file.data) for img in file_images() if img.packed_file]
    used = {Path(i["filepath"]) for i in ada.images if i["source"] == "cache"}
    assert len(used) >= 10
    assert len(packed) == len(file_images()) == len(used) + 2
    for path in used:
        assert path.read_bytes() in packed, path.name
    # and the saved .blend holds each static texture's bytes once
    blend = tmp_path / "crowd.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), compress=False)
    data = blend.read_bytes()
    bodies = [path.read_bytes() for path in used]
    for body in bodies:  # files of identical content are each held once, no more
        assert data.count(body) == bodies.count(body)


def test_a_failed_second_import_leaves_the_first_avatars_images_intact(
        tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ada_glb, ada_map = export_with_cache(tmp_path, "ada", cache)
    bob_glb, bob_map = export_with_cache(tmp_path, "bob", cache)
    import_avatar_glb(ada_glb, name="Ada", search=[ada_map])
    before = {img.name: (img.users, tuple(img.size), img.get(SHARE_KEY))
              for img in bpy.data.images}
    counts = {attr: len(getattr(bpy.data, attr)) for attr in ("images", "materials",
                                                                "objects", "meshes")}
    # Bob's own face texture is broken: the import fails after his shared textures
    # were matched to Ada's images
    (bob_glb.parent / FACE).write_bytes(b"not an image at all")
    with pytest.raises(ImportFailed, match="AvatarHeadFemale_Color"):
        import_avatar_glb(bob_glb, name="Bob", search=[bob_map])
    assert "Bob" not in bpy.data.collections
    assert {attr: len(getattr(bpy.data, attr)) for attr in counts} == counts
    after = {img.name: (img.users, tuple(img.size), img.get(SHARE_KEY))
             for img in bpy.data.images}
    assert after == before
    assert all(img.packed_file is not None and img.size[0] > 0
               for img in images_of("Ada").values())


def test_importing_into_a_blend_reopened_from_disk_reuses_its_images(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ada_glb, ada_map = export_with_cache(tmp_path, "ada", cache)
    bob_glb, bob_map = export_with_cache(tmp_path, "bob", cache)
    import_avatar_glb(ada_glb, name="Ada", search=[ada_map])
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    names = {img.name for img in bpy.data.images}
    bob = import_avatar_glb(bob_glb, name="Bob", search=[bob_map])
    new = {img.name for img in bpy.data.images} - names
    assert len(new) == 1 and Path(bpy.data.images[new.pop()].filepath).name == FACE
    assert all(i.get("shared") for i in bob.images if i["source"] == "cache")
    ada_images, bob_images = images_of("Ada"), images_of("Bob")
    assert all(bob_images[n] == ada_images[n] for n in ada_images if n != FACE)


def test_earlier_avatars_look_exactly_as_before_after_the_next_import(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ada_glb, ada_map = export_with_cache(tmp_path, "ada", cache)
    bob_glb, bob_map = export_with_cache(tmp_path, "bob", cache)
    cid_glb, cid_map = export_with_cache(tmp_path, "cid", cache)
    import_avatar_glb(ada_glb, name="Ada", search=[ada_map])
    import_avatar_glb(bob_glb, name="Bob", search=[bob_map])
    view_layer = bpy.context.view_layer
    layers = {lc.collection.name: lc for lc in view_layer.layer_collection.children}
    # what a user may have set: Bob excluded, one of Ada's meshes hidden, another
    # hidden in viewports, Ada's layer collection hidden
    layers["Bob"].exclude = True
    ada_objects = sorted(bpy.data.collections["Ada"].all_objects, key=lambda o: o.name)
    meshes = [o for o in ada_objects if o.type == "MESH"]
    meshes[0].hide_set(True)
    meshes[1].hide_viewport = True
    layers["Ada"].hide_viewport = True
    group = bpy.data.collections.new("Crowd")  # Ada is also linked inside a user collection
    bpy.context.scene.collection.children.link(group)
    group.children.link(bpy.data.collections["Ada"])
    before = {o.name: (o.hide_get(), o.hide_viewport, o.visible_get()) for o in ada_objects}

    cid = import_avatar_glb(cid_glb, name="Cid", search=[cid_map])

    layers = {lc.collection.name: lc for lc in view_layer.layer_collection.children}
    assert layers["Bob"].exclude is True and layers["Ada"].exclude is False
    assert layers["Ada"].hide_viewport is True and layers["Cid"].exclude is False
    assert layers["Crowd"].children["Ada"].exclude is False
    after = {o.name: (o.hide_get(), o.hide_viewport, o.visible_get()) for o in ada_objects}
    assert after == before
    # the new avatar is the selection, its armature active
    selected = {o.name for o in bpy.context.scene.objects if o.select_get()}
    assert selected == set(cid.objects)
    assert view_layer.objects.active.name == cid.armature
    layers["Bob"].exclude = False  # Bob's objects come back as they were
    assert all(o.visible_get() for o in bpy.data.collections["Bob"].all_objects)


def test_a_failed_import_restores_earlier_avatars_and_the_selection(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ada_glb, ada_map = export_with_cache(tmp_path, "ada", cache)
    bob_glb, bob_map = export_with_cache(tmp_path, "bob", cache)
    ada = import_avatar_glb(ada_glb, name="Ada", search=[ada_map])
    hidden = bpy.data.objects[ada.objects[1]]
    hidden.hide_set(True)
    chosen = bpy.data.objects[ada.objects[2]]
    for obj in bpy.context.scene.objects:
        obj.select_set(obj == chosen)
    bpy.context.view_layer.objects.active = chosen
    (bob_glb.parent / FACE).write_bytes(b"broken")
    with pytest.raises(ImportFailed):
        import_avatar_glb(bob_glb, name="Bob", search=[bob_map])
    assert hidden.hide_get() is True
    assert {o.name for o in bpy.context.scene.objects if o.select_get()} == {chosen.name}
    assert bpy.context.view_layer.objects.active == chosen
    lc = bpy.context.view_layer.layer_collection.children["Ada"]
    assert lc.exclude is False


def test_identical_textures_from_folders_are_one_image(tmp_path: Path) -> None:
    """File > Import style: shared textures found in a folder (not the cache) are matched by
    content, wherever the folder is."""
    glbs = []
    for name in ("ada", "bob"):
        source = write_sandbox_avatar(tmp_path / name / "src")
        textures = tmp_path / name / "textures"
        textures.mkdir()
        for texture in source.parent.glob("*.png"):
            texture.rename(textures / texture.name)
        glbs.append((source, textures))
    ada = import_avatar_glb(glbs[0][0], name="Ada", search=[glbs[0][1]])
    count = len(bpy.data.images)
    bob = import_avatar_glb(glbs[1][0], name="Bob", search=[glbs[1][1]])
    assert len(bpy.data.images) == count
    assert {i["source"] for i in ada.images} == {"folder"}
    assert all(i.get("shared") for i in bob.images)
    ada_images, bob_images = images_of("Ada"), images_of("Bob")
    assert ada_images.keys() == bob_images.keys()
    for name, image in bob_images.items():
        assert Path(image.filepath).name == name


def test_importing_while_an_earlier_avatar_is_in_edit_mode(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ada_glb, ada_map = export_with_cache(tmp_path, "ada", cache)
    bob_glb, bob_map = export_with_cache(tmp_path, "bob", cache)
    ada = import_avatar_glb(ada_glb, name="Ada", search=[ada_map])
    head = next(bpy.data.objects[n] for n in ada.objects if n.startswith("AvatarHead"))
    for obj in bpy.context.scene.objects:
        obj.select_set(obj == head)
    bpy.context.view_layer.objects.active = head
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.select_all(action="SELECT")
    bpy.ops.transform.translate(value=(0.0, 0.0, 1.0))  # an edit not yet written back
    z_before = max(v.co.z for v in head.data.vertices)
    bob = import_avatar_glb(bob_glb, name="Bob", search=[bob_map])
    assert head.mode == "OBJECT" and bob.objects
    assert max(v.co.z for v in head.data.vertices) > z_before + 0.5  # the edit was kept
    assert bpy.context.view_layer.layer_collection.children["Ada"].exclude is False
