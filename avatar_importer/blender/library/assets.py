"""An asset library of avatars: one ``<name>.blend`` per avatar, and a crowd scene of them.

Main thread only. The public API (used by the manifest run, and by the panel's
"Save to Library"):

* :func:`save_avatar_to_library` ``(collection, library_dir, meta)``: mark the avatar's
  collection as an asset (catalog, tags, description, preview), pack its images, and
  write it with its dependencies as ``library_dir/<name>.blend``
  (``bpy.data.libraries.write``; written beside, then renamed into place, so a reader
  never sees half a file). Blender 5.0's partial write drops previews: there, when the
  open file holds nothing but the avatar (the batch), a full copy of it is saved instead;
  otherwise (an avatar among other work, in 5.0) the asset is written without preview.
  The catalog comes from ``blender_assets.cats.txt``, merged under a lock
  (``core.asset_catalogs``). The current file is not changed otherwise.
* :func:`remove_avatar` ``(collection)``: take the avatar out of the current file (a batch
  of 100 rows keeps one avatar in memory at a time).
* :func:`library_assets` ``(library_dir)``: the (file, collection name) of every asset.
* :func:`assemble_crowd` ``(library_dir, out)``: a new file linking (not appending) every
  asset, each as a library override (so it can be posed), laid out on a grid.
* :func:`remember` / :func:`stored_source`: where an avatar came from
  (``core.asset_meta.AvatarSource``), kept inside its import report on its collection
  (one record; a .blend of the previous version, which kept it in a property of its own,
  is still read). The meta of every asset is made by ``AssetMeta.for_avatar``.

Asset previews: ``asset_generate_preview`` needs a GPU context (not headless), so the
preview's pixels are set from an image file (the service's thumbnail, or the photo)
through ``compat.set_preview_image``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from ...core.asset_catalogs import ensure_catalogs
from ...core.asset_meta import AssetMeta, AvatarSource
from ...core.cache import partial_path
from .. import compat
from ..importing.importer import REPORT_PROPERTY, stored_report

PREVIEW_SIZE = 128


def mark_asset(collection: Any, library_dir: Path, meta: AssetMeta) -> str:
    """Mark ``collection`` as an asset with ``meta``; returns its catalog UUID."""
    catalog_id = ensure_catalogs(Path(library_dir), [meta.catalog_path])[meta.catalog_path] \
        if library_dir else ""
    if collection.asset_data is None:
        collection.asset_mark()
    data = collection.asset_data
    if catalog_id:
        data.catalog_id = catalog_id
    data.description = meta.description_text()
    for tag in list(data.tags):
        data.tags.remove(tag)
    for tag in meta.all_tags:
        data.tags.new(tag, skip_if_exists=True)
    if meta.preview is not None and Path(meta.preview).is_file():
        set_preview_from_file(collection, Path(meta.preview))
    return catalog_id


def set_preview_from_file(idblock: Any, image_file: Path, size: int = PREVIEW_SIZE) -> bool:
    """Give ``idblock`` a preview made from ``image_file`` (scaled to fit ``size``).
    Returns False (and leaves no image behind) when the file cannot be read."""
    try:
        image: Any = bpy.data.images.load(str(image_file), check_existing=False)
    except RuntimeError:
        return False
    try:
        width, height = image.size
        if not width or not height:
            return False
        scale = min(1.0, size / max(width, height))
        if scale < 1.0:
            image.scale(max(1, round(width * scale)), max(1, round(height * scale)))
            width, height = image.size
        pixels = [0.0] * (width * height * 4)
        image.pixels.foreach_get(pixels)
        compat.set_preview_image(idblock, width, height, pixels)
        return True
    finally:
        bpy.data.images.remove(image)


def pack_images_of(collection: Any) -> int:
    """Pack every file image the collection's materials use; returns how many it packed."""
    packed = 0
    for image in _images_of(collection):
        if image.source in {"FILE", "SEQUENCE", "TILED"} and image.packed_file is None:
            image.pack()
            packed += 1
    return packed


def _images_of(collection: Any) -> set[Any]:
    images: set[Any] = set()
    for obj in collection.all_objects:
        for slot in getattr(obj, "material_slots", []):
            mat = slot.material
            if mat is not None and mat.node_tree is not None:
                images |= _tree_images(mat.node_tree)
    return images


def _tree_images(tree: Any) -> set[Any]:
    found: set[Any] = set()
    for node in tree.nodes:
        if getattr(node, "image", None) is not None:
            found.add(node.image)
        if getattr(node, "node_tree", None) is not None:
            found |= _tree_images(node.node_tree)
    return found


def writes_preview(collection: Any) -> bool:
    """Whether :func:`save_avatar_to_library` keeps the asset's preview in this Blender
    (5.0's partial write drops it unless the open file is just this avatar)."""
    return compat.partial_write_keeps_previews() or holds_only(collection)


def save_avatar_to_library(collection: Any, library_dir: Path, meta: AssetMeta,
                           keep_current: bool = False) -> Path:
    """Write the avatar as an asset to ``library_dir/<meta.name>.blend``; returns the
    path. Replaces an earlier file of that name whole (never half-written).
    ``keep_current``: leave the open file as it was (the panel's "Save to Library": the
    collection is unmarked again if it was no asset, images packed for the write are
    unpacked again, keeping their file paths, its fake user as it was)."""
    library_dir = Path(library_dir)
    library_dir.mkdir(parents=True, exist_ok=True)
    was_asset = collection.asset_data is not None
    fake_user = collection.use_fake_user
    packed_before = {image for image in _images_of(collection) if image.packed_file}
    try:
        return _write_asset(collection, library_dir, meta)
    finally:
        if keep_current:
            for image in _images_of(collection) - packed_before:
                if image.packed_file is not None:
                    image.unpack(method="REMOVE")  # back to its file, as before
            if not was_asset and collection.asset_data is not None:
                collection.asset_clear()
            collection.use_fake_user = fake_user


def _write_asset(collection: Any, library_dir: Path, meta: AssetMeta) -> Path:
    mark_asset(collection, library_dir, meta)
    pack_images_of(collection)
    target = library_dir / f"{meta.name}.blend"
    tmp = partial_path(target).with_suffix(".blend")
    try:
        if compat.partial_write_keeps_previews() or not holds_only(collection):
            bpy.data.libraries.write(str(tmp), {collection}, path_remap="NONE",
                                     fake_user=True, compress=True)
        else:  # the open file is just this avatar (batch): a full copy keeps the preview
            collection.use_fake_user = True
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, compress=True,
                                        relative_remap=False)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return target


def holds_only(collection: Any) -> bool:
    """Whether the open file's objects and collections are all this avatar's."""
    mine = set(collection.all_objects)
    kids = set(collection.children_recursive) | {collection}
    return all(obj in mine for obj in bpy.data.objects) and \
        all(coll in kids for coll in bpy.data.collections)


def remove_avatar(collection: Any) -> None:
    """Remove the avatar's collection, its objects and whatever only they used (for the
    batch: it purges every unused datablock of the open file, so not for a user's file)."""
    ids: set[Any] = {collection}
    for obj in collection.all_objects:
        ids.add(obj)
    for child in collection.children_recursive:
        ids.add(child)
    data: Any = bpy.data  # (the type stubs lack some of these keywords)
    data.batch_remove(ids)
    with contextlib.suppress(RuntimeError, AttributeError):
        data.orphans_purge(do_local_ids=True, do_linked_ids=False, do_recursive=True)


# --- where an imported avatar came from ------------------------------------------------

#: the previous version's own custom property for the source (read, never written now)
OLD_SOURCE_PROPERTY = "avatar_importer_source"
#: the key of the source in the import report (``importer.REPORT_PROPERTY``)
SOURCE_KEY = "source"


def remember_source(state: Any, event: Any) -> None:
    """Engine listener: keep on the imported avatar's collection where it came from (no
    secrets), so "Save to Library" can describe it in a later session too."""
    result = getattr(state, "result", None)
    if event.kind != "imported" or result is None:
        return
    collection = bpy.data.collections.get(result.collection_name)
    if collection is not None:
        remember(collection, AvatarSource.from_job(state))


def remember(collection: Any, source: AvatarSource) -> None:
    """Put ``source`` into the import report kept on ``collection`` (one record per
    avatar); the previous version's separate property is dropped."""
    body = stored_report(collection) or {}
    body[SOURCE_KEY] = source.to_record()
    collection[REPORT_PROPERTY] = json.dumps(body, default=str, separators=(",", ":"))
    if OLD_SOURCE_PROPERTY in collection:
        del collection[OLD_SOURCE_PROPERTY]


def stored_source(collection: Any) -> AvatarSource:
    """Where the avatar of ``collection`` came from: the report's record, else the
    previous version's property (a .blend saved by it); ``service`` is ``file`` when
    neither says."""
    report = stored_report(collection) if collection is not None else None
    body = (report or {}).get(SOURCE_KEY)
    if not isinstance(body, dict) and collection is not None:
        text = collection.get(OLD_SOURCE_PROPERTY)
        try:
            body = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            body = None
    return AvatarSource.from_record(body if isinstance(body, dict) else None)


# --- reading the library, assembling a crowd -----------------------------------------


def _libraries() -> Any:
    """``bpy.data.libraries`` (its ``load`` is a context manager the type stubs miss)."""
    return bpy.data.libraries


def library_assets(library_dir: Path, exclude: Path | None = None) -> list[tuple[Path, str]]:
    """(file, collection name) of every collection asset in the library's .blend files
    (top level, except ``exclude``), in file-name order. Reads each file's asset list
    without opening it."""
    out: list[tuple[Path, str]] = []
    skip = Path(exclude).resolve() if exclude is not None else None
    for blend in sorted(Path(library_dir).glob("*.blend")):
        if blend.name.startswith(".") or (skip is not None and blend.resolve() == skip):
            continue  # a writer's temporary file, or the crowd itself
        with _libraries().load(str(blend), assets_only=True) as (src, _dst):
            names = list(src.collections)
        out += [(blend, name) for name in names]
    return out


@dataclass
class CrowdResult:
    out: Path
    avatars: list[str]
    libraries: list[str]


def assemble_crowd(library_dir: Path, out: Path, spacing: float = 1.2) -> CrowdResult:
    """Start a new empty file, link every avatar asset of ``library_dir`` as a library
    override, lay them out on a grid (``spacing`` metres), save it as ``out`` with
    relative paths (move the library and the file together)."""
    out = Path(out).resolve()
    assets = library_assets(library_dir, exclude=out)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    backup = out.with_name(out.name + "1")  # Blender's "save versions" copy
    had_backup = backup.exists()
    # saved first, so the libraries are linked by paths relative to it ("//lib/a.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(out))
    scene = bpy.context.scene
    view_layer = bpy.context.view_layer
    columns = max(1, math.ceil(math.sqrt(len(assets))))
    placed: list[str] = []
    for index, (blend, name) in enumerate(assets):
        with _libraries().load(str(blend), link=True, relative=True) as (_src, dst):
            dst.collections = [name]
        linked = dst.collections[0]
        if linked is None:
            continue
        override = linked.override_hierarchy_create(scene, view_layer,
                                                    do_fully_editable=True)
        row, col = divmod(index, columns)
        offset = (col * spacing, -row * spacing, 0.0)
        for obj in override.all_objects:
            if obj.parent is None:
                obj.location = (obj.location[0] + offset[0], obj.location[1] + offset[1],
                                obj.location[2])
        placed.append(override.name)
    bpy.ops.wm.save_mainfile(filepath=str(out))
    if not had_backup:  # the first save's copy is not worth keeping
        with contextlib.suppress(OSError):
            backup.unlink()
    return CrowdResult(out=out, avatars=placed,
                       libraries=[lib.filepath for lib in bpy.data.libraries])
