"""Face capture and lip-sync in Debian's Blender 3.4 (standalone script, no pytest).

    BLENDER_USER_RESOURCES=$(mktemp -d) \\
        blender -b --factory-startup --python-exit-code 1 -P tests/blender34/test_face_animation.py

Imports the sandbox's MetaPerson and Avaturn avatars with the add-on's importer, plays a
generated Live Link Face take and Rhubarb cues on them, and checks what a user would:
shape-key values equal the CSV's (after the gain), the head bone follows the angles, the
visemes switch at the cue times, unmatched channels are reported, and bad input changes
nothing. Ends with ``face animation: PASSED``; any failed assert exits 1.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import bpy
from mathutils import Matrix

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "tests", REPO / "tests" / "blender"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from face_avatars import import_avaturn, import_metaperson  # noqa: E402
from mocap_samples import CUES, livelink_csv, rhubarb_json, rhubarb_tsv  # noqa: E402

from avatar_importer.blender import compat  # noqa: E402
from avatar_importer.blender.animation.apply import apply_animation_files  # noqa: E402
from avatar_importer.core.errors import InputError  # noqa: E402
from avatar_importer.core.mocap.arkit import ARKIT_52  # noqa: E402
from avatar_importer.core.mocap.livelink import ChannelSettings, FaceOptions  # noqa: E402
from avatar_importer.core.mocap.rhubarb import VISEME_MAPS  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="avatar-face34-"))
T0 = time.monotonic()


def step(text: str) -> None:
    print(f"[face-3.4 {time.monotonic() - T0:5.1f}s] {text}", flush=True)


def fresh_scene(fps: int) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    compat.ensure_numpy_bool_alias()  # Debian's numpy lacks np.bool (glTF importer)
    bpy.context.scene.render.fps = fps


def delta(armature, bone: str):
    pose = armature.pose.bones[bone].matrix.to_quaternion()
    return pose @ armature.data.bones[bone].matrix_local.to_quaternion().inverted()


def main() -> None:
    assert compat.version() < (4, 0, 0), "this script is for Blender 3.4"
    text = livelink_csv(seconds=2.0, fps=60)
    rows = list(csv.DictReader(io.StringIO(text)))
    (TMP / "take.csv").write_text(text)
    (TMP / "line.tsv").write_text(rhubarb_tsv())
    (TMP / "line.json").write_text(rhubarb_json())

    step("MetaPerson: face capture + lip-sync")
    fresh_scene(30)
    arm = import_metaperson(TMP / "mp")
    options = FaceOptions(channels={"JawOpen": ChannelSettings(gain=0.8)})
    report = apply_animation_files(arm, face_capture=TMP / "take.csv",
                                   face_options=options)
    assert report["face"]["channels_unmapped"] == ["tongueOut"], report["face"]
    keys = bpy.data.objects["AvatarHead"].data.shape_keys.key_blocks
    for offset in (0, 13, 37, 60):
        bpy.context.scene.frame_set(1 + offset)
        row = rows[2 * offset]
        for name in ARKIT_52[:-1]:
            want = float(row[name[0].upper() + name[1:]]) * (0.8 if name == "jawOpen" else 1)
            assert abs(keys[name].value - min(1.0, want)) <= 0.01, (offset, name)
        yaw, pitch, roll = (float(row[k]) for k in ("HeadYaw", "HeadPitch", "HeadRoll"))
        want_q = (Matrix.Rotation(yaw, 4, "Z") @ Matrix.Rotation(pitch, 4, "X")
                  @ Matrix.Rotation(-roll, 4, "Y")).to_quaternion()
        assert delta(arm, "Head").rotation_difference(want_q).angle < 1e-3, offset
    step("shape keys and head bone follow the take")

    fresh_scene(24)
    arm = import_metaperson(TMP / "mp2")
    apply_animation_files(arm, lipsync=TMP / "line.tsv")
    check_visemes("AvatarHead", VISEME_MAPS["visemes_15"])
    step("visemes_15 switch at the TSV cue times")

    before = (sorted(bpy.data.actions.keys()),
              compat.id_action(bpy.data.objects["AvatarHead"].data.shape_keys))
    (TMP / "notes.csv").write_text("name,age\nada,36\n")
    (TMP / "photo.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    for kwargs, message in ((dict(face_capture=TMP / "notes.csv"), "no ARKit columns"),
                            (dict(lipsync=TMP / "photo.json"), "not Rhubarb Lip Sync")):
        try:
            apply_animation_files(arm, **kwargs)
        except InputError as exc:
            assert message in str(exc), exc
        else:
            raise AssertionError(f"{kwargs} was accepted")
        after = (sorted(bpy.data.actions.keys()),
                 compat.id_action(bpy.data.objects["AvatarHead"].data.shape_keys))
        assert after == before, kwargs
    step("bad input: clear message, avatar unchanged")

    fresh_scene(24)
    arm = import_avaturn(TMP / "av")
    report = apply_animation_files(arm, face_capture=TMP / "take.csv",
                                   lipsync=TMP / "line.json")
    assert report["face"]["channels_unmapped"] == [], report["face"]
    assert report["lipsync"]["viseme_set"] == "oculus"
    check_visemes("Head_Mesh", VISEME_MAPS["oculus"])
    step("Avaturn split head: tongueOut driven, viseme_* switch at the JSON cue times")


def check_visemes(mesh: str, table: dict) -> None:
    keys = bpy.data.objects[mesh].data.shape_keys.key_blocks
    fps = bpy.context.scene.render.fps
    for start, shape in CUES:
        frame = 1 + math.ceil(start * fps - 1e-9)
        bpy.context.scene.frame_set(frame)
        for name, weight in table[shape].items():
            assert abs(keys[name].value - weight) < 1e-4, (start, shape, name)


main()
print("face animation: PASSED", flush=True)
