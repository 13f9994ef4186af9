"""Import an avatar GLB with Blender's own glTF importer: all or nothing.

Main thread only. The steps:

1. Read the GLB and check every image/buffer URI (``core.glb``): unsafe URIs and broken
   files raise ``UnsafeUriError`` / ``GlbFormatError`` before Blender sees anything.
2. Resolve external images (beside the GLB, then the ``search`` entries). Any missing
   image raises ``ImportFailed`` naming them: we never produce a pink avatar. With
   ``raise_on_missing=False`` (File > Import) the import goes on instead: each missing
   image becomes the importer's placeholder, pointed at where the file was expected, and
   is listed by name in ``ImportResult.missing_images`` and ``warnings``.
3. Stage the GLB (``prepare_for_import``) in a temporary folder so Blender loads every
   image from its resolved file; afterwards image paths are re-pointed to those files and
   the staging folder is deleted. A missing image's URI names where the user's file was
   expected (``missing_dir``), so the importer's own console lines ("Cannot read ...")
   never name the temporary folder.
4. Snapshot ``bpy.data``, import into a fresh collection named after the avatar (made the
   active collection for the duration) with earlier avatars excluded from the view layer
   meanwhile (``scene_exclusion``: restored exactly afterwards; a batch holds them
   excluded until its run ends: ``avatars_excluded_meanwhile``), and the importer's
   temporary objects freed without scanning the .blend (``free_ids``), so the cost of an
   import barely grows with the crowd. Shared static textures already in the .blend are reused
   (``image_share``: one datablock per distinct file, packed once); every other new image
   is verified loadable: a complete PNG/JPEG/WebP file (``core.image_check``, no decoding),
   else decoded by Blender. Packing happens after sharing, so each file is packed once.
5. Per-part material fix-ups (``materials``), a tidy scene (``scene_tidy``: armature
   named after the avatar, meshes under it, optional cursor placement and real-size
   scaling) and, when hair is present, enough Cycles transparent bounces.
6. On any failure remove everything the attempt created, restore the scene settings it
   changed, and raise ``ImportFailed``.

``.gltf`` files are accepted too (``core.glb.read_model``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ...core.errors import AvatarImporterError, ImportFailed
from ...core.glb import (
    Glb,
    ImageResolution,
    check_uri,
    external_buffer_uris,
    external_image_uris,
    prepare_for_import,
    read_model,
    resolve_images,
    staged_names,
    uri_to_relpath,
)
from ...core.image_check import image_file_complete
from .. import compat
from . import free_ids, image_share, materials, scene_exclusion, scene_tidy

#: bpy.data collections an import can add to; all are diffed against a snapshot
TRACKED_DATA = (
    "objects", "meshes", "materials", "images", "armatures", "actions", "collections",
    "node_groups", "textures", "shape_keys", "cameras", "lights", "curves",
)

_GLTF_ERROR_LOGGER = "glTFImporter_errors"
#: custom property on the avatar's collection: its import report (JSON)
REPORT_PROPERTY = "avatar_importer_report"
SOURCE_MISSING = "missing"


@dataclass
class ImportResult:
    collection_name: str
    objects: list[str]
    armature: str | None
    # {name, filepath, resolved: bool, source: embedded|beside|archive|cache|folder|missing}
    images: list[dict]
    shape_keys: dict[str, int]  # mesh object name -> shape keys excluding the basis
    bone_count: int
    seconds: float
    parts: dict[str, str] = field(default_factory=dict)  # mesh object name -> part kind
    # {name, part, objects, changes: [what was set, in the running Blender's terms]}
    materials: list[dict] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)  # image URIs not found/loaded
    #: of ``missing_images``, those no material of the import uses (nothing looks different)
    unused_missing_images: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scene_changes: list[str] = field(default_factory=list)
    source_file: str = ""


# --- snapshot and rollback --------------------------------------------------------------


Snapshot = dict[str, set[int]]


def take_snapshot() -> Snapshot:
    """Identify every datablock that exists now, per tracked ``bpy.data`` collection."""
    return {
        attr: set(compat.datablock_ids(getattr(bpy.data, attr)))
        for attr in TRACKED_DATA
        if hasattr(bpy.data, attr)
    }


def new_since(snapshot: Snapshot, attr: str) -> list[Any]:
    """Datablocks of ``bpy.data.<attr>`` created after ``snapshot``."""
    known = snapshot.get(attr, set())
    collection = getattr(bpy.data, attr)
    return [collection[i] for i, uid in enumerate(compat.datablock_ids(collection))
            if uid not in known]


def remove_created(snapshot: Snapshot) -> None:
    """Delete every tracked datablock created after ``snapshot`` (objects first)."""
    doomed: list[Any] = []
    for attr in TRACKED_DATA:
        if attr != "shape_keys" and hasattr(bpy.data, attr):
            doomed.extend(new_since(snapshot, attr))
    if doomed:
        bpy.data.batch_remove(doomed)
    # shape keys go with their meshes; anything left over is removed on its own
    if hasattr(bpy.data, "shape_keys"):
        leftovers = new_since(snapshot, "shape_keys")
        if leftovers:
            bpy.data.batch_remove(leftovers)


# --- helpers ------------------------------------------------------------------------------


def _find_layer_collection(root: Any, collection: Any) -> Any | None:
    if root.collection == collection:
        return root
    for child in root.children:
        found = _find_layer_collection(child, collection)
        if found is not None:
            return found
    return None


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _collect_importer_errors() -> Iterator[_ErrorCollector]:
    handler = _ErrorCollector()
    logger = logging.getLogger(_GLTF_ERROR_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(bpy.path.abspath(path))))


def _image_loaded(image: Any) -> bool:
    # reading size loads the file; the importer's placeholder for a missing file stays 0x0
    try:
        width, height = tuple(image.size)
    except (ReferenceError, RuntimeError):
        return False
    return width > 0 and height > 0


def _expected_image_paths(
    prepared: Path, glb_path: Path, resolution: ImageResolution, uris: list[str],
    missing_paths: dict[str, Path],
) -> dict[str, str]:
    """Normalised path the importer will load for each external URI -> that URI (for a
    missing one: the path of the placeholder it leaves)."""
    if prepared == glb_path:  # loaded in place: beside the GLB, under the URI itself
        return {_norm(str(glb_path.parent.joinpath(*uri_to_relpath(uri).parts))): uri
                for uri in uris}
    names = staged_names(resolution, include_missing=True)
    expected = {_norm(str(prepared.parent / names[uri])): uri for uri in uris
                if uri in names and uri not in missing_paths}
    expected.update({_norm(str(path)): uri for uri, path in missing_paths.items()})
    return expected


def _missing_paths(resolution: ImageResolution, options: _Options) -> dict[str, Path]:
    """Where each missing image was expected (``missing_dir`` / its file name): the path
    its placeholder gets. Left out (staged under a temporary name as before): a name two
    URIs share, and a file that exists there, which the resolver did not choose, so the
    importer must not read it."""
    out: dict[str, Path] = {}
    taken: set[str] = set()
    for uri in resolution.missing:
        target = (options.missing_dir / uri_to_relpath(uri).name).absolute()
        key = os.path.normcase(str(target))
        if key in taken or target.exists():
            continue
        taken.add(key)
        out[uri] = target
    return out


def _check_safe(glb_path: Path) -> tuple[Glb, list[str]]:
    """Parse the model once (it is handed on) and refuse unsafe URIs before anything."""
    glb = read_model(glb_path)
    image_uris = external_image_uris(glb.json)
    for uri in image_uris + external_buffer_uris(glb.json):
        check_uri(uri)
    return glb, image_uris


# --- the import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    at_cursor: bool
    metre_scale: bool
    fixups: bool
    transparent_bounces: bool
    raise_on_missing: bool
    missing_dir: Path


@dataclass
class _Attempt:
    """What must be restored or removed if the import fails."""

    snapshot: Snapshot
    scene: Any
    view_layer: Any
    previous_active_layer: Any
    previous_active_object: str | None
    previous_selection: list[str] = field(default_factory=list)
    #: (owner, attribute, value before) of every scene setting the import changed
    scene_settings: list[tuple[Any, str, Any]] = field(default_factory=list)


def import_avatar_glb(
    glb_path: Path,
    *,
    name: str,
    search: Sequence[Any] = (),
    pack_images: bool = True,
    context: Any = None,
    at_cursor: bool = False,
    metre_scale: bool = True,
    fixups: bool = True,
    transparent_bounces: bool = True,
    raise_on_missing: bool = True,
    missing_dir: Path | None = None,
) -> ImportResult:
    """Import ``glb_path`` (a .glb or .gltf) into a new collection called ``name`` (Blender
    may append a suffix when taken). ``search`` lists where external images may be found
    besides the model's folder: mappings basename -> file (the static-resource cache) and
    folders.

    ``at_cursor``: move the avatar to the 3D cursor. ``metre_scale``: in a scene whose unit
    scale is not 1, scale the avatar so it keeps its real size in metres. ``fixups``:
    per-part material fix-ups (``materials``). ``transparent_bounces``: when the avatar has
    hair, raise (never lower) Cycles' transparent bounces so stacked hair cards render.
    ``raise_on_missing=False``: import even when external images are missing; each is
    listed in ``missing_images`` and ``warnings`` and its placeholder image points at
    ``missing_dir`` (default: the model's folder) / its file name, ready for Blender's
    File > External Data > Find Missing Files.

    Raises ``UnsafeUriError`` / ``GlbFormatError`` for a bad file (nothing is touched),
    ``ImportFailed`` for anything else; after a failure nothing of the attempt remains.
    """
    started = time.perf_counter()
    glb_path = Path(glb_path).resolve()
    ctx = context if context is not None else bpy.context
    parsed, image_uris = _check_safe(glb_path)
    resolution = resolve_images(glb_path, search, glb=parsed)
    if resolution.missing and raise_on_missing:
        raise ImportFailed(
            f"Cannot import {name}: {len(resolution.missing)} texture(s) not found: "
            + ", ".join(resolution.missing)
        )
    options = _Options(at_cursor=at_cursor, metre_scale=metre_scale, fixups=fixups,
                       transparent_bounces=transparent_bounces,
                       raise_on_missing=raise_on_missing,
                       missing_dir=Path(missing_dir) if missing_dir else glb_path.parent)

    scene = ctx.scene
    view_layer = ctx.view_layer
    active = view_layer.objects.active
    attempt = _Attempt(
        snapshot=take_snapshot(),
        scene=scene,
        view_layer=view_layer,
        previous_active_layer=view_layer.active_layer_collection,
        previous_active_object=active.name if active is not None else None,
        previous_selection=[o.name for o in view_layer.objects if o.select_get()],
    )
    try:
        with tempfile.TemporaryDirectory(prefix="avatar_import_") as staging:
            expected_at = {} if raise_on_missing else _missing_paths(resolution, options)
            prepared = prepare_for_import(glb_path, resolution, Path(staging),
                                          allow_missing=not raise_on_missing, glb=parsed,
                                          missing_paths=expected_at)
            expected = _expected_image_paths(prepared, glb_path, resolution, image_uris,
                                             expected_at)
            if ctx.object is not None and ctx.object.mode != "OBJECT":
                # before excluding anything: an object in edit mode writes its edits back
                bpy.ops.object.mode_set(mode="OBJECT")
            with scene_exclusion.earlier_avatars_excluded(view_layer, REPORT_PROPERTY):
                collection = _run_importer(ctx, scene, view_layer, attempt, prepared, name)
                images, missing = _verify_images(attempt.snapshot, expected, resolution,
                                                 options)
                result = _finish(ctx, collection, attempt, images, missing, options,
                                 glb_path, pack_images)
        _select_avatar(ctx, view_layer, new_since(attempt.snapshot, "objects"), result)
        result.seconds = time.perf_counter() - started
        store_report(collection, result)
        return result
    except BaseException as exc:
        _rollback(attempt)
        if isinstance(exc, ImportFailed) or not isinstance(exc, Exception):
            raise
        if isinstance(exc, AvatarImporterError):
            raise ImportFailed(f"Cannot import {name}: {exc.message}") from exc
        raise ImportFailed(f"Blender could not import {name}: {_plain(exc)}") from exc


@contextmanager
def avatars_excluded_meanwhile(context: Any = None) -> Iterator[Any]:
    """For a run of imports (a batch): the avatars already in the scene, and each one
    imported within the block, stay excluded from the view layer until the block ends,
    then all are put back at once, as imports one by one would have left them
    (``scene_exclusion``). Each import then excludes only the avatar before it and puts
    nothing back, instead of the whole crowd each time: putting a collection back costs
    Blender a view-layer resync that grows with the scene."""
    ctx = context if context is not None else bpy.context
    with scene_exclusion.held_excluded(ctx.view_layer, REPORT_PROPERTY) as state:
        yield state


def _plain(exc: BaseException) -> str:
    """One readable line: the importer's RuntimeError carries a whole Python traceback."""
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("Location:")]
    if any("Traceback" in ln for ln in lines):
        errors = [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", ln)]
        line = errors[-1] if errors else lines[-1]
        return f"the glTF importer failed ({line})"
    return (lines[0] if lines else text).removeprefix("Error: ").strip()


def _run_importer(
    ctx: Any, scene: Any, view_layer: Any, attempt: _Attempt, prepared: Path, name: str,
) -> Any:
    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    layer = _find_layer_collection(view_layer.layer_collection, collection)
    if layer is not None:
        view_layer.active_layer_collection = layer
    compat.ensure_numpy_bool_alias()
    kwargs = compat.gltf_import_kwargs(
        filepath=str(prepared),
        import_pack_images=False,  # packed after sharing (image_share.pack_once)
        import_shading="NORMALS",
        disable_bone_shape=True,  # no helper sphere object in a hidden collection
        import_scene_as_collection=False,  # 4.5+: put objects straight into ours
        import_select_created_objects=False,
    )
    try:
        with _collect_importer_errors() as errors, free_ids.cheap_temporary_objects(), \
                image_share.names_kept():
            result = bpy.ops.import_scene.gltf(**kwargs)
    finally:
        _restore_active_layer(attempt)
    if "FINISHED" not in (result or ()):
        detail = f": {errors.messages[0]}" if errors.messages else ""
        raise ImportFailed(f"Blender's glTF importer did not finish importing {name}{detail}")
    _gather_objects(attempt.snapshot, collection)
    if not new_since(attempt.snapshot, "objects"):
        raise ImportFailed(f"{name}: the file contains no objects")
    return collection


def _gather_objects(snapshot: Snapshot, collection: Any) -> None:
    """Put every new object into ``collection`` only (collections the importer created,
    now empty, are removed)."""
    objects = new_since(snapshot, "objects")
    extras = [c for c in new_since(snapshot, "collections") if c != collection]
    # where an importer may have put them: ours (the active collection), collections it
    # made, the scene's own (``users_collection`` would scan every collection per object)
    for obj in objects:
        if collection.objects.get(obj.name) != obj:
            collection.objects.link(obj)
        for other in (*extras, *(s.collection for s in bpy.data.scenes)):
            if other.objects.get(obj.name) == obj:
                other.objects.unlink(obj)
    for extra in extras:
        if not extra.objects and not extra.children:
            bpy.data.collections.remove(extra)


def _verify_images(
    snapshot: Snapshot, expected: dict[str, str], resolution: ImageResolution,
    options: _Options,
) -> tuple[list[dict], list[str]]:
    """The report entry of every new image, and the URIs missing or unloadable (only
    when ``raise_on_missing`` is off; otherwise an unloadable image raises)."""
    images: list[dict] = []
    broken: list[str] = []
    new_images = new_since(snapshot, "images")
    index = image_share.ShareIndex.build(exclude=new_images)
    shared = image_share.ShareOutcome()
    for image in new_images:
        uri = expected.get(_norm(image.filepath)) if image.filepath else None
        if uri is not None and uri in resolution.found:
            existing = image_share.reuse_or_tag(image, resolution.found[uri],
                                                resolution.source[uri], index, shared)
            if existing is not None:  # already in the .blend (and checked when it came)
                images.append({"name": existing.name, "filepath": str(resolution.found[uri]),
                               "resolved": True, "source": resolution.source[uri],
                               "shared": True})
                continue
        if uri is not None and uri not in resolution.found:  # a missing image's placeholder
            hint = options.missing_dir / uri_to_relpath(uri).name
            image.filepath_raw = str(hint)
            images.append({"name": image.name, "filepath": str(hint), "resolved": False,
                           "source": SOURCE_MISSING, "uri": uri})
            continue
        complete = uri is not None and uri in resolution.found \
            and image_file_complete(resolution.found[uri])  # no decoding needed
        if not complete and not _image_loaded(image):
            image_share.untag(image, index)  # never offered to later imports
            broken.append(uri or image.name)
            if not options.raise_on_missing:
                path = str(resolution.found[uri]) if uri is not None else ""
                if path:
                    image.filepath_raw = path
                images.append({"name": image.name, "filepath": path, "resolved": False,
                               "source": SOURCE_MISSING, "uri": uri or image.name})
            continue
        if uri is None:
            images.append({"name": image.name, "filepath": "", "resolved": True,
                           "source": "embedded"})
            continue
        original = resolution.found[uri]
        image.filepath_raw = str(original)  # the staged copy disappears after import
        images.append({"name": image.name, "filepath": str(original), "resolved": True,
                       "source": resolution.source[uri]})
    trees = [m.node_tree for m in new_since(snapshot, "materials") if m.node_tree is not None]
    image_share.drop_duplicates(shared, [*trees, *new_since(snapshot, "node_groups")])
    if broken and options.raise_on_missing:
        raise ImportFailed(
            f"{len(broken)} texture(s) could not be loaded: " + ", ".join(sorted(broken))
        )
    missing = list(resolution.missing) + sorted(b for b in broken if b not in resolution.missing)
    return images, missing


def _finish(
    ctx: Any, collection: Any, attempt: _Attempt, images: list[dict], missing: list[str],
    options: _Options, glb_path: Path, pack_images: bool,
) -> ImportResult:
    snapshot = attempt.snapshot
    objects = new_since(snapshot, "objects")
    warnings: list[str] = []
    used, unused = _missing_by_use(missing, images)
    if used:
        warnings.append(f"{len(used)} texture(s) the materials use are missing (Blender's "
                        "pink placeholder until found: File > External Data > Find Missing "
                        "Files): " + ", ".join(used))
    if unused:
        warnings.append(f"{len(unused)} more file(s) named by the export are missing but no "
                        "material uses them (nothing looks different): " + ", ".join(unused))
    fix = materials.apply_fixups(objects, fix_materials=options.fixups)
    warnings += fix.warnings
    scene_changes = scene_tidy.tidy(objects, name=collection.name, scene=ctx.scene,
                                    at_cursor=options.at_cursor,
                                    metre_scale=options.metre_scale)
    if options.transparent_bounces and fix.has_hair:
        cycles = getattr(ctx.scene, "cycles", None)
        before = getattr(cycles, "transparent_max_bounces", None)
        raised = materials.raise_transparent_bounces(ctx.scene)
        if raised is not None:
            attempt.scene_settings.append((cycles, "transparent_max_bounces", before))
            scene_changes.append(f"Cycles transparent bounces raised {raised[0]} -> "
                                 f"{raised[1]} for the hair")
    scene_tidy.tag_images(new_since(snapshot, "images"), collection.name)
    if pack_images:  # each file once: a shared image is packed by the first avatar only
        reused = [bpy.data.images.get(i["name"]) for i in images if i.get("shared")]
        image_share.pack_once([*new_since(snapshot, "images"), *filter(None, reused)])
    armatures = [o for o in objects if o.type == "ARMATURE"]
    shape_keys: dict[str, int] = {}
    for obj in objects:
        if obj.type == "MESH":
            keys = obj.data.shape_keys
            shape_keys[obj.name] = max(len(keys.key_blocks) - 1, 0) if keys else 0
    main = scene_tidy.main_armature(objects)
    result = ImportResult(
        collection_name=collection.name,
        objects=[o.name for o in objects],
        armature=main.name if main is not None else None,
        images=images,
        shape_keys=shape_keys,
        bone_count=sum(len(a.data.bones) for a in armatures),
        seconds=0.0,
        parts=fix.parts,
        materials=fix.materials,
        missing_images=missing,
        unused_missing_images=unused,
        warnings=warnings,
        scene_changes=scene_changes,
        source_file=str(glb_path),
    )
    return result


def _missing_by_use(missing: list[str], images: list[dict]) -> tuple[list[str], list[str]]:
    """``missing`` split into (used by a material, used by none). The glTF importer makes
    an image only for a texture some material uses (e.g. not for Unity-only maps or
    visibility masks); a placeholder nothing draws with counts as unused too."""
    used: set[str] = set()
    for info in images:
        uri = info.get("uri")
        image = bpy.data.images.get(info["name"])
        if uri in missing and image is not None and image.users > 0:
            used.add(uri)
    return [u for u in missing if u in used], [u for u in missing if u not in used]


def _select_avatar(ctx: Any, view_layer: Any, objects: list[Any],
                   result: ImportResult) -> None:
    """The new avatar becomes the selection, its armature (else first object) active."""
    scene_exclusion.deselect_held(view_layer)
    for obj in ctx.scene.objects:
        if obj.select_get(view_layer=view_layer):
            obj.select_set(False, view_layer=view_layer)
    for obj in objects:
        obj.select_set(True, view_layer=view_layer)
    main = next((o for o in objects if o.name == result.armature), None)
    view_layer.objects.active = main if main is not None else objects[0]


def store_report(collection: Any, result: ImportResult) -> None:
    """Keep the import report with the avatar (saved in the .blend): see ``stored_report``."""
    body = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    collection[REPORT_PROPERTY] = json.dumps(body, default=str, separators=(",", ":"))


def stored_report(collection: Any) -> dict[str, Any] | None:
    """The import report kept on an avatar's collection, or None."""
    text = collection.get(REPORT_PROPERTY) if collection is not None else None
    if not isinstance(text, str):
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _restore_active_layer(attempt: _Attempt) -> None:
    with contextlib.suppress(ReferenceError, RuntimeError, TypeError, AttributeError):
        attempt.view_layer.active_layer_collection = attempt.previous_active_layer


def _rollback(attempt: _Attempt) -> None:
    view_layer = attempt.view_layer
    _restore_active_layer(attempt)
    for owner, attr, value in reversed(attempt.scene_settings):
        with contextlib.suppress(AttributeError, ReferenceError, TypeError, ValueError):
            setattr(owner, attr, value)
    remove_created(attempt.snapshot)
    # iterate the scene, not view_layer.objects: its base cache is stale after removal
    for obj in attempt.scene.objects:
        with contextlib.suppress(RuntimeError):
            obj.select_set(obj.name in attempt.previous_selection, view_layer=view_layer)
    name = attempt.previous_active_object
    active = bpy.data.objects.get(name) if name else None
    with contextlib.suppress(RuntimeError, TypeError, ValueError):
        view_layer.objects.active = active
