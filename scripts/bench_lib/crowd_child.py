"""Crowd figure child: N avatars into one scene, add-on vs plain glTF importer, in real bpy.

    python scripts/bench_lib/crowd_child.py SPEC.json OUT.json

SPEC: ``{"glb": path, "search": {basename: path}, "n": N, "work": folder}`` (one avatar
made by the job engine: its extracted GLB and the static-resource cache map).

* add-on: each avatar gets an export folder of its own, as each job does (the GLB, the
  static textures hard-linked beside it like the job's worker does), then
  ``import_avatar_glb(..., pack_images=True)`` into the same scene within
  ``avatars_excluded_meanwhile`` (as the batch runs its imports), timed one by one, with
  Blender's resident memory after each; then the time to put every avatar back in the
  view layer, and how many objects are visible after it; then the .blend is saved
  (packed, uncompressed) and its image datablocks and size are counted;
* plain: after a factory reset, ``bpy.ops.import_scene.gltf`` of one GLB with its
  textures beside it, N times into the same scene (what File > Import does; same options,
  but no packing: packing N copies would measure memory, not the importer's growth).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from avatar_importer.blender import compat  # noqa: E402
from avatar_importer.blender.importing.importer import (  # noqa: E402
    avatars_excluded_meanwhile,
    import_avatar_glb,
)
from avatar_importer.core.glb import place_beside, read_glb  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export_folders(glb: Path, search: dict[str, Path], work: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        folder = work / f"export{i:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / glb.name
        if not target.exists():
            os.link(glb, target)
        place_beside(target, search)
        out.append(target)
    return out


def addon_crowd(glbs: list[Path], search: dict[str, Path], work: Path) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    rss0 = rss_mb()
    times, rss = [], []
    with avatars_excluded_meanwhile():  # as the batch runs its imports
        for i, glb in enumerate(glbs):
            t0 = time.perf_counter()
            import_avatar_glb(glb, name=f"Avatar{i:03d}", search=[search], pack_images=True)
            times.append(time.perf_counter() - t0)
            rss.append(rss_mb())
        t0 = time.perf_counter()
    restore_s = time.perf_counter() - t0  # every avatar back in the view layer
    visible = sum(1 for obj in bpy.context.view_layer.objects if obj.visible_get())
    images = [img for img in bpy.data.images if img.source == "FILE"]
    used: dict[str, int] = {}
    for img in images:
        path = bpy.path.abspath(img.filepath)
        if os.path.isfile(path):
            data = Path(path).read_bytes()
            used[hashlib.sha256(data).hexdigest()] = len(data)
    blend = work / "crowd.blend"
    t0 = time.perf_counter()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), compress=False)
    save_s = time.perf_counter() - t0
    compressed = work / "crowd-compressed.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(compressed), compress=True, copy=True)
    return {"times": times, "rss_mb": rss, "rss_start_mb": rss0, "restore_seconds": restore_s,
            "visible_objects": visible, "objects": len(bpy.data.objects),
            "image_datablocks": len(images), "packed": sum(1 for i in images if i.packed_file),
            "distinct_texture_files": len(used), "distinct_texture_bytes": sum(used.values()),
            "blend_bytes": blend.stat().st_size, "save_seconds": save_s,
            "blend_compressed_bytes": compressed.stat().st_size}


def plain_crowd(glb: Path, search: dict[str, Path], work: Path, n: int) -> dict:
    folder = work / "plain"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / glb.name
    shutil.copyfile(glb, target)
    place_beside(target, search)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    compat.ensure_numpy_bool_alias()
    kwargs = compat.gltf_import_kwargs(
        filepath=str(target), import_pack_images=False, import_shading="NORMALS",
        disable_bone_shape=True, import_scene_as_collection=False,
        import_select_created_objects=False)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        bpy.ops.import_scene.gltf(**kwargs)
        times.append(time.perf_counter() - t0)
    return {"times": times, "image_datablocks": len(bpy.data.images)}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    work = Path(spec["work"])
    work.mkdir(parents=True, exist_ok=True)
    glb = Path(spec["glb"])
    search = {k: Path(v) for k, v in spec["search"].items()}
    n = int(spec["n"])
    parsed = read_glb(glb)
    mesh_bytes = len(parsed.bin or b"")
    glbs = export_folders(glb, search, work, n)
    addon = addon_crowd(glbs, search, work)
    plain = plain_crowd(glb, search, work, n)
    out = {"bpy_version": bpy.app.version_string, "n": n, "glb_bytes": glb.stat().st_size,
           "mesh_bytes_per_avatar": mesh_bytes, "addon": addon, "plain": plain}
    Path(argv[1]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
