"""Rhubarb Lip Sync cues on imported avatars, in real Blender: the visemes switch at the
cue times (MetaPerson visemes_15 from TSV, Avaturn viseme_* from JSON), a user's own
table, and bad files changing nothing."""

from __future__ import annotations

import math

import bpy
import pytest
from face_avatars import import_avaturn, import_metaperson
from mocap_samples import CUES, rhubarb_json, rhubarb_tsv

from avatar_importer.blender import compat
from avatar_importer.blender.animation.apply import apply_animation_files
from avatar_importer.core.errors import InputError
from avatar_importer.core.mocap.rhubarb import VISEME_MAPS

FPS = 24
START = 1  # the scene's first frame


def value(mesh: str, key: str) -> float:
    return bpy.data.objects[mesh].data.shape_keys.key_blocks[key].value


def check_switches(mesh: str, table: dict[str, dict[str, float]]) -> int:
    """At the first frame at or after each cue's start the cue's visemes are on; at the
    frame before, the previous cue's. Returns how many switches were checked."""
    scene = bpy.context.scene
    keys = sorted({k for targets in table.values() for k in targets})
    checked = 0
    for i, (start, shape) in enumerate(CUES):
        frame = START + math.ceil(start * FPS - 1e-9)
        previous = CUES[i - 1][1] if i else "X"
        if i and math.ceil(CUES[i - 1][0] * FPS - 1e-9) >= frame - 1:
            continue  # the previous cue did not last a whole frame: nothing to see
        scene.frame_set(frame)
        for key in keys:
            assert value(mesh, key) == pytest.approx(table[shape].get(key, 0.0)), \
                (start, shape, key)
        if i:
            scene.frame_set(frame - 1)
            for key in keys:
                assert value(mesh, key) == pytest.approx(table[previous].get(key, 0.0)), \
                    (start, previous, key)
        checked += 1
    return checked


def test_metaperson_visemes_switch_at_tsv_cue_times(tmp_path):
    bpy.context.scene.render.fps = FPS
    armature = import_metaperson(tmp_path)
    (tmp_path / "line.tsv").write_text(rhubarb_tsv())
    report = apply_animation_files(armature, lipsync=tmp_path / "line.tsv")
    lips = report["lipsync"]
    assert lips["viseme_set"] == "visemes_15" and lips["cues"] == len(CUES)
    assert lips["visemes_unmapped"] == []
    assert {"AvatarHead:PP", "AvatarHead:aa", "AvatarHead:sil"} <= set(lips["shape_keys_driven"])
    assert check_switches("AvatarHead", VISEME_MAPS["visemes_15"]) >= 8
    assert report["shape_key_channels_mapped"] == lips["visemes_mapped"]


def test_avaturn_visemes_switch_at_json_cue_times(tmp_path):
    bpy.context.scene.render.fps = FPS
    armature = import_avaturn(tmp_path)
    (tmp_path / "line.json").write_text(rhubarb_json())
    report = apply_animation_files(armature, lipsync=tmp_path / "line.json")
    assert report["lipsync"]["viseme_set"] == "oculus"
    assert report["lipsync"]["frame_end"] == START + 2 * FPS  # the JSON's last cue ends at 2 s
    assert check_switches("Head_Mesh", VISEME_MAPS["oculus"]) >= 8


def test_a_users_table_replaces_the_built_in_one(tmp_path):
    bpy.context.scene.render.fps = FPS
    armature = import_metaperson(tmp_path)
    table = {s: {"sil": 1.0} for s in "ABCDEFGHX"}
    table["D"] = {"oh": 0.6, "aa": 0.4}
    (tmp_path / "line.tsv").write_text(rhubarb_tsv())
    report = apply_animation_files(armature, lipsync=tmp_path / "line.tsv", viseme_map=table)
    assert report["lipsync"]["viseme_set"] == "custom"
    assert check_switches("AvatarHead", table) >= 8
    assert "AvatarHead:PP" not in report["lipsync"]["shape_keys_driven"]


def test_files_that_are_not_rhubarb_output_change_nothing(tmp_path, make_png):
    armature = import_metaperson(tmp_path)
    before = (sorted(bpy.data.actions.keys()),
              compat.id_action(bpy.data.objects["AvatarHead"].data.shape_keys))
    (tmp_path / "photo.tsv").write_bytes(make_png())
    (tmp_path / "other.json").write_text('{"frames": [1, 2, 3]}')
    (tmp_path / "take.csv").write_text("Timecode,BlendShapeCount,JawOpen\n")
    cases = [("photo.tsv", "not Rhubarb Lip Sync output"), ("other.json", "no 'mouthCues'"),
             ("take.csv", r"expected a \.tsv or \.json file")]
    for name, message in cases:
        with pytest.raises(InputError, match=message):
            apply_animation_files(armature, lipsync=tmp_path / name)
        after = (sorted(bpy.data.actions.keys()),
                 compat.id_action(bpy.data.objects["AvatarHead"].data.shape_keys))
        assert after == before, name


def test_avatar_without_visemes_is_told_clearly(tmp_path):
    """Avaturn's classic layout has no shape keys at all: lip-sync says so, changes nothing."""
    from avatar_importer.blender.importing.importer import import_avatar_glb
    from avatar_importer.sandbox.avaturn_assets import build_avaturn_glb
    glb = tmp_path / "classic.glb"
    glb.write_bytes(build_avaturn_glb("classic", texture_px=8))
    armature = bpy.data.objects[import_avatar_glb(glb, name="Classic").armature]
    (tmp_path / "line.tsv").write_text(rhubarb_tsv())
    actions = sorted(bpy.data.actions.keys())
    with pytest.raises(InputError, match="Classic has no viseme shape keys"):
        apply_animation_files(armature, lipsync=tmp_path / "line.tsv")
    assert sorted(bpy.data.actions.keys()) == actions
    assert armature.animation_data is None
