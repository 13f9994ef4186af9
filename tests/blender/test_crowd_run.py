"""A crowd imported as the batch runs it (earlier avatars held excluded until the run ends)
ends exactly as imports one by one do; the glTF importer's temporary objects are freed
without scanning the .blend and the importer is left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import pytest
from avatar_samples import write_sandbox_avatar
from test_crowd import FACE, export_with_cache

from avatar_importer.blender import compat
from avatar_importer.blender.importing import free_ids
from avatar_importer.blender.importing.importer import (
    avatars_excluded_meanwhile,
    import_avatar_glb,
)
from avatar_importer.core.errors import ImportFailed

TEMP_OBJECT = "##gltf-import:tmp-object##"


def scene_state() -> dict[str, Any]:
    """What a user sees: per object (in the view layer, visible, hidden, selected), the
    active object, and every layer collection's exclude flag."""
    view_layer = bpy.context.view_layer
    in_layer = {o.name for o in view_layer.objects}
    objects = {
        o.name: (o.name in in_layer, o.visible_get(), o.hide_get(), o.select_get())
        for o in bpy.context.scene.objects
    }
    layers = {lc.collection.name: lc.exclude for lc in view_layer.layer_collection.children}
    active = view_layer.objects.active
    return {"objects": objects, "layers": layers,
            "active": active.name if active is not None else None}


def crowd(tmp_path: Path, run: str, held: bool) -> dict[str, Any]:
    """Ada and Bob first (the user then hides one of Ada's meshes and excludes Bob), then
    Cid, a broken Dee and Eve: one by one, or as one run."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    root = tmp_path / run
    root.mkdir()
    cache = root / "cache"
    exports = {n: export_with_cache(root, n.lower(), cache) for n in ("Ada", "Bob", "Cid",
                                                                        "Dee", "Eve")}
    (exports["Dee"][0].parent / FACE).write_bytes(b"broken")
    for name in ("Ada", "Bob"):
        import_avatar_glb(exports[name][0], name=name, search=[exports[name][1]])
    ada = sorted((o for o in bpy.data.collections["Ada"].all_objects if o.type == "MESH"),
                 key=lambda o: o.name)
    ada[0].hide_set(True)
    bpy.context.view_layer.layer_collection.children["Bob"].exclude = True

    def rest() -> None:
        for name in ("Cid", "Dee", "Eve"):
            glb, mapping = exports[name]
            if name == "Dee":
                with pytest.raises(ImportFailed):
                    import_avatar_glb(glb, name=name, search=[mapping])
            else:
                import_avatar_glb(glb, name=name, search=[mapping])

    if held:
        with avatars_excluded_meanwhile():
            rest()
            # meanwhile the earlier avatars are out of the view layer
            layers = bpy.context.view_layer.layer_collection.children
            assert layers["Ada"].exclude and layers["Cid"].exclude
            assert not layers["Eve"].exclude
    else:
        rest()
    return scene_state()


def test_a_run_of_imports_ends_exactly_as_imports_one_by_one(tmp_path: Path) -> None:
    one_by_one = crowd(tmp_path, "single", held=False)
    run = crowd(tmp_path, "run", held=True)
    assert run == one_by_one
    # and what that state is: every avatar back, the user's choices kept, Eve selected
    assert run["layers"] == {"Ada": False, "Bob": True, "Cid": False, "Eve": False}
    eve = set(bpy.data.collections["Eve"].all_objects.keys())
    assert {n for n, s in run["objects"].items() if s[3]} == eve
    assert run["active"] in eve
    hidden = [n for n, s in run["objects"].items() if s[2]]
    assert len(hidden) == 1 and hidden[0] in bpy.data.collections["Ada"].all_objects
    shown = [n for n, s in run["objects"].items()
             if n not in bpy.data.collections["Bob"].all_objects and n not in hidden]
    assert shown and all(run["objects"][n][1] for n in shown)


def mesh_signature() -> dict[str, Any]:
    """Per mesh object: vertex count, vertex groups, shape keys and their coordinates."""
    out: dict[str, Any] = {}
    for obj in bpy.data.objects:
        if obj.type != "MESH":
            continue
        keys = obj.data.shape_keys
        blocks = []
        for block in keys.key_blocks if keys else ():
            coords = [0.0] * (len(block.data) * 3)
            block.data.foreach_get("co", coords)
            blocks.append((block.name, round(sum(abs(c) for c in coords), 4)))
        out[obj.data.name.split(".")[0]] = (len(obj.data.vertices),
                                             sorted(g.name for g in obj.vertex_groups),
                                             blocks)
    return out


def test_temporary_objects_are_freed_and_the_mesh_is_what_the_importer_makes(
        tmp_path: Path) -> None:
    module = compat.gltf_mesh_module()
    assert module is not None, "the glTF importer no longer makes temporary objects " \
        "the way free_ids expects: the crowd import cost grows again"
    glb = write_sandbox_avatar(tmp_path / "ada")
    kwargs = compat.gltf_import_kwargs(filepath=str(glb), import_shading="NORMALS",
                                       disable_bone_shape=True)
    compat.ensure_numpy_bool_alias()
    bpy.ops.import_scene.gltf(**kwargs)  # Blender's importer as it is
    plain = mesh_signature()
    assert plain and any(blocks for _n, _g, blocks in plain.values())

    bpy.ops.wm.read_factory_settings(use_empty=True)
    import_avatar_glb(glb, name="Ada")
    assert mesh_signature() == plain
    assert TEMP_OBJECT not in {o.name.split(".")[0] for o in bpy.data.objects}
    assert module.bpy is bpy  # the importer is left as it was


def test_the_importer_is_left_as_it_was_when_an_import_fails(tmp_path: Path) -> None:
    module = compat.gltf_mesh_module()
    assert module is not None
    with pytest.raises(RuntimeError), free_ids.cheap_temporary_objects() as applied:
        assert applied and module.bpy is not bpy
        raise RuntimeError("the import failed")
    assert module.bpy is bpy
    # and a datablock something still uses is deleted the general way
    mesh = bpy.data.meshes.new("kept")
    obj = bpy.data.objects.new("user", mesh)
    bpy.context.scene.collection.objects.link(obj)
    free_ids.free_unused(bpy.data.objects, obj)
    assert "user" not in bpy.data.objects and not bpy.context.scene.objects
