"""Figure 1 child: time the add-on's import against a plain glTF import, inside real bpy.

Run by ``scripts/bench.py`` with a ``bpy`` wheel venv's Python (``bpy`` imports once per
process)::

    python scripts/bench_lib/bpy_import.py SPEC.json OUT.json

SPEC: ``{"glb": path, "search": {basename: path}, "reps": n, "work": folder,
"what_if": bool}``. For the
baseline the GLB and its textures are copied into ``work/plain/`` so every image URI
resolves beside the GLB; that copy is made once, outside the timings. Each repetition
starts both imports from an empty factory scene, alternating which goes first; the
result holds every timing, the medians and the minimums.

``what_if`` also times proposed changes to the add-on, patched in this process only (the
add-on's files are not touched), each interleaved with the plain import again:

* ``ab``: the staging GLB written without ``fsync`` (it is a temporary file) and the GLB
  read and parsed once per import instead of three times;
* ``c``: the job's worker thread links the static textures beside the extracted GLB (done
  here before timing), so the import finds every image beside it and stages nothing.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

import avatar_importer.blender.importing.importer as importer_module  # noqa: E402
import avatar_importer.core.glb as glb_module  # noqa: E402
from avatar_importer.blender import compat  # noqa: E402
from avatar_importer.core.glb import external_image_uris, read_glb, uri_to_relpath  # noqa: E402

#: the importer options the add-on passes; the plain import gets the same ones, so the
#: difference is the add-on's own work (checks, URI rewiring, collection, verification)
OPTIONS = {"import_pack_images": True, "import_shading": "NORMALS", "disable_bone_shape": True,
           "import_scene_as_collection": False, "import_select_created_objects": False}


def plain_copy(glb: Path, search: dict[str, str], work: Path, name: str = "plain",
               link: bool = False) -> Path:
    """The GLB with every texture beside it, where its URIs point (copies, or links)."""
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = folder / glb.name
    shutil.copyfile(glb, target)
    for uri in external_image_uris(read_glb(glb).json):
        rel = uri_to_relpath(uri)
        dest = folder.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        beside = glb.parent.joinpath(*rel.parts)
        source = beside if beside.is_file() else Path(search[rel.name])
        if link:
            os.link(source, dest)
        else:
            shutil.copyfile(source, dest)
    return target


def reset() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    gc.collect()


def time_plain(path: Path) -> float:
    reset()
    kwargs = compat.gltf_import_kwargs(filepath=str(path), **OPTIONS)
    start = time.perf_counter()
    result = bpy.ops.import_scene.gltf(**kwargs)
    seconds = time.perf_counter() - start
    if "FINISHED" not in (result or ()):
        raise RuntimeError(f"plain import did not finish: {result}")
    return seconds


def time_addon(glb: Path, search: dict[str, str]) -> tuple[float, int]:
    reset()
    mapping = {name: Path(p) for name, p in search.items()}
    _memo.clear()
    start = time.perf_counter()
    result = importer_module.import_avatar_glb(glb, name="Bench", search=[mapping],
                                               pack_images=True)
    seconds = time.perf_counter() - start
    return seconds, len(result.images)


# --- what-if patches (this process only) ----------------------------------------------------

_memo: dict[str, glb_module.Glb] = {}
_ORIGINAL = {"write_glb": glb_module.write_glb, "read_glb": glb_module.read_glb}


def _write_glb_no_fsync(glb: glb_module.Glb, path: Path) -> None:
    Path(path).write_bytes(glb_module.encode_glb(glb))


def _read_glb_once(path_or_bytes):  # type: ignore[no-untyped-def]
    if isinstance(path_or_bytes, bytes | bytearray):
        return _ORIGINAL["read_glb"](path_or_bytes)
    key = str(Path(path_or_bytes).resolve())
    if key not in _memo:
        _memo[key] = _ORIGINAL["read_glb"](path_or_bytes)
    return _memo[key]


def patch_ab(on: bool) -> None:
    glb_module.write_glb = _write_glb_no_fsync if on else _ORIGINAL["write_glb"]
    reader = _read_glb_once if on else _ORIGINAL["read_glb"]
    glb_module.read_glb = reader
    importer_module.read_glb = reader  # type: ignore[attr-defined]


def measure(glb: Path, search: dict[str, str], plain: Path, reps: int) -> dict:
    time_plain(plain)  # warm-up
    time_addon(glb, search)
    plain_s: list[float] = []
    addon_s: list[float] = []
    images = 0
    for rep in range(reps):
        if rep % 2:
            plain_s.append(time_plain(plain))
            seconds, images = time_addon(glb, search)
            addon_s.append(seconds)
        else:
            seconds, images = time_addon(glb, search)
            addon_s.append(seconds)
            plain_s.append(time_plain(plain))
    return {"images": images, "plain_seconds": plain_s, "addon_seconds": addon_s,
            "plain_median": statistics.median(plain_s),
            "addon_median": statistics.median(addon_s),
            "plain_min": min(plain_s), "addon_min": min(addon_s)}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    glb, search, reps = Path(spec["glb"]), dict(spec["search"]), int(spec["reps"])
    work = Path(spec["work"])
    plain = plain_copy(glb, search, work)
    out = {"bpy_version": bpy.app.version_string, "reps": reps,
           "glb_bytes": glb.stat().st_size, **measure(glb, search, plain, reps)}
    if spec.get("what_if"):
        patch_ab(True)
        out["what_if_ab"] = measure(glb, search, plain, reps)
        patch_ab(False)
        beside = plain_copy(glb, search, work, name="linked", link=True)
        out["what_if_c"] = measure(beside, search, plain, reps)
    Path(argv[1]).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
