"""Shared textures stored once: one image datablock per distinct static texture file.

Every glTF import makes its own image datablocks, even for a file another avatar already
uses (a crowd of 40 sharing 19 files made 760 images, each packed separately). After each
import the importer hands its new images here:

* an image whose file came from the static-resource cache or a shared texture folder
  (sources ``cache`` / ``folder``) is *shareable*. Its key names the file: for a cache
  file, the cache entry itself (absolute path, size, modification time: a cache entry is
  written once, atomically, and never changed; a stat, no reading); for a file from a
  folder, the SHA-256 of its content (identical files anywhere are one image). The colour
  space and alpha mode it is used with are part of the key. When the .blend already
  holds an image with that key (``SHARE_KEY`` custom property, saved with the .blend, so
  a .blend reopened from disk is matched too: on the machine whose cache entry it names,
  anywhere for folder files; a cache entry fetched again is a new key, hence a new image
  for the avatars imported after it), the new materials' image nodes are pointed
  at it and the new one is deleted: one datablock, packed once, copied once by Make Portable.
  Otherwise the new image is tagged with its key and becomes the one later imports reuse;
* images that belong to one avatar (embedded in the GLB, beside the model in its own export
  folder, from its archive: its face) are never shared; neither are materials (recolouring
  one avatar must not recolour the crowd).

An existing image is reused only when its pixels can still be had (packed, or its file is
there) and it has no unsaved paint (``is_dirty``). The content digest of a folder file is
computed once per process for a given (device, inode, size, mtime).

Rollback: only datablocks created after the import's snapshot are ever removed, so a failed
import never removes an image another avatar uses.

Main thread only (touches ``bpy.data``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ...core.file_digest import file_sha256
from . import free_ids

#: custom property on a shareable image: "sha256:<hex>|<colour space>|<alpha mode>"
SHARE_KEY = "avatar_importer_share_key"
#: report ``source`` values of files shared between avatars (see core.glb)
SHARED_SOURCES = frozenset({"cache", "folder"})

def file_digest(path: Path | str) -> str:
    """``sha256:<hex>`` of the file's content (``core.file_digest``: read once per version)."""
    return "sha256:" + file_sha256(path)


def cache_entry_key(path: Path | str) -> str:
    """``cache:<absolute path>|<size>|<mtime_ns>``: a static-resource cache entry."""
    st = os.stat(path)
    return f"cache:{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


def share_key(image: Any, path: Path | str, source: str) -> str:
    colorspace = getattr(getattr(image, "colorspace_settings", None), "name", "")
    ident = cache_entry_key(path) if source == "cache" else file_digest(path)
    return f"{ident}|{colorspace}|{getattr(image, 'alpha_mode', '')}"


def _usable(image: Any) -> bool:
    if getattr(image, "is_dirty", False) or image.library is not None:
        return False
    if image.packed_file is not None:
        return True
    return bool(image.filepath) and os.path.isfile(bpy.path.abspath(image.filepath))


@dataclass
class ShareIndex:
    """The shareable images the .blend holds, by key (built once per import)."""

    by_key: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, exclude: Iterable[Any] = ()) -> ShareIndex:
        skip = {img.as_pointer() for img in exclude}
        index = cls()
        for image in bpy.data.images:
            key = image.get(SHARE_KEY)  # type: ignore[func-returns-value]
            if isinstance(key, str) and image.as_pointer() not in skip \
                    and key not in index.by_key and _usable(image):
                index.by_key[key] = image
        return index


@dataclass
class ShareOutcome:
    reused: dict[str, str] = field(default_factory=dict)  # new image name -> existing name
    tagged: list[str] = field(default_factory=list)  # new images now shared by later imports
    duplicates: list[tuple[Any, Any]] = field(default_factory=list)  # (new, shared) pairs


def reuse_or_tag(image: Any, path: Path | str, source: str, index: ShareIndex,
                 outcome: ShareOutcome) -> Any | None:
    """For one new image loaded from ``path``: the existing image to use instead (the pair is
    queued in ``outcome.duplicates`` for ``drop_duplicates``), or None when it stays (tagged
    with its key when shareable). Unreadable files are left to the caller's check."""
    if source not in SHARED_SOURCES:
        return None
    try:
        key = share_key(image, path, source)
    except OSError:
        return None
    existing = index.by_key.get(key)
    if existing is None:
        image[SHARE_KEY] = key
        index.by_key[key] = image
        outcome.tagged.append(image.name)
        return None
    outcome.reused[image.name] = existing.name
    outcome.duplicates.append((image, existing))
    return existing


def untag(image: Any, index: ShareIndex) -> None:
    """Withdraw a new image from sharing (its file did not load)."""
    key = image.get(SHARE_KEY)  # type: ignore[func-returns-value]
    if isinstance(key, str):
        del image[SHARE_KEY]
        if index.by_key.get(key) == image:
            del index.by_key[key]


def drop_duplicates(outcome: ShareOutcome, trees: Iterable[Any]) -> None:
    """Point the image nodes of ``trees`` (the import's new materials' and node groups'
    node trees: the only users of its new images) at the shared images, then delete the
    new duplicates. ``ID.user_remap`` and ``batch_remove`` would each scan all of
    ``bpy.data``, a cost that grows with the crowd; this touches only the new avatar."""
    swap = {new.as_pointer(): existing for new, existing in outcome.duplicates}
    if swap:
        for tree in trees:
            for node in tree.nodes:
                image = getattr(node, "image", None)
                if image is not None and image.as_pointer() in swap:
                    node.image = swap[image.as_pointer()]
    for new, existing in outcome.duplicates:
        if new.users != 0:  # a user we do not know of: the general (slower) way
            new.user_remap(existing)
        free_ids.free_unused(bpy.data.images, new)  # nothing uses it now: no scan
    outcome.duplicates = []


def pack_once(images: Iterable[Any]) -> list[str]:
    """Pack every image not packed yet whose file is there (shared ones included: packed
    once for everyone; a missing texture's placeholder is left as it is); the names of
    those packed now."""
    packed: list[str] = []
    for image in images:
        if image.packed_file is None and image.source == "FILE" and image.filepath \
                and os.path.isfile(bpy.path.abspath(image.filepath)):
            image.pack()
            packed.append(image.name)
    return packed


@contextmanager
def names_kept() -> Iterator[None]:
    """Around Blender's glTF importer: the images that exist before it runs keep their
    names, failure or not.

    The importer names each image it makes after its file (``image.name = ...``). Blender
    3.4 gives that name to the new image and renames the image that held it (4.x suffixes
    the new one instead), so every import renamed earlier avatars' images: their shared
    textures and faces became ``<file>.001``, ``.002``..., a failed import renamed them too,
    and an avatar's stored import report named another avatar's face. Renaming each one
    back moves a suffix onto the new image instead. Reads only ``bpy.data.images`` (one
    datablock per shared file plus one face per avatar)."""
    before = {image.as_pointer(): image.name for image in bpy.data.images}
    try:
        yield
    finally:
        renamed = [(image, before[image.as_pointer()]) for image in bpy.data.images
                   if before.get(image.as_pointer(), image.name) != image.name]
        for image, name in renamed:
            image.name = name
