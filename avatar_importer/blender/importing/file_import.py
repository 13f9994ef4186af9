"""File > Import > Avatar export (.zip, .glb, .gltf), and File > External Data > Make
Avatar Textures Portable.

The import takes what a user downloaded elsewhere (a MetaPerson export archive or GLB,
e.g. from MetaPerson Creator, or an Avaturn GLB) through the same importer as the service
flow: same safety checks, same per-part fix-ups, same tidy scene. External textures are
resolved from the archive, then the static-resource cache, then a folder the user may
point to. Textures still missing do not stop the import: they are listed by name in the
report and in an operator warning (never silently pink), and their placeholder images
point where the file was expected, ready for File > External Data > Find Missing Files.

Main thread only. Nothing here runs at import time of the module except class creation.
"""

from __future__ import annotations

import contextlib
import filecmp
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ...core.archive import extract_zip, find_model
from ...core.cache import default_cache_root
from ...core.errors import AvatarImporterError, InputError
from ...core.file_digest import file_sha256
from ...core.glb import SOURCE_BESIDE
from ...core.report import report_lines
from . import import_props
from .importer import ImportResult, import_avatar_glb
from .scene_tidy import IMAGE_TAG

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems as OperatorReturn
else:
    OperatorReturn = str

__all__ = [
    "CLASSES",
    "SUFFIXES",
    "import_avatar_file",
    "last_messages",
    "last_result",
    "make_portable",
    "register_menus",
    "report_lines",
    "static_cache_map",
    "unregister_menus",
]

SUFFIXES = (".zip", ".glb", ".gltf")
SOURCE_ARCHIVE = "archive"
PORTABLE_FOLDER = "textures"


class _State:
    results: list[ImportResult] = []
    messages: list[tuple[str, str]] = []  # (level, text) the last File > Import reported


def last_result() -> ImportResult | None:
    """The most recent File > Import result of this session (for the panel's report)."""
    return _State.results[-1] if _State.results else None


def last_messages() -> list[tuple[str, str]]:
    """What the last File > Import reported to the user: (INFO|WARNING|ERROR, text)."""
    return list(_State.messages)


# --- the import, without the operator ------------------------------------------------------


def default_cache() -> Path:
    """The add-on's cache root as the service flow uses it (static resources live there)."""
    try:
        from .. import runtime
        return Path(runtime.cache_root(runtime.preferences()))
    except (ImportError, AttributeError, RuntimeError):
        return default_cache_root()


def static_cache_map(cache_root: Path | None) -> dict[str, Path]:
    """Basename -> file for every static resource already in the cache (first one wins)."""
    if cache_root is None:
        return {}
    static = Path(cache_root) / "static"
    if not static.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(static.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and path.name not in found:
            found[path.name] = path
    return found


def _default_name(path: Path, model: Path) -> str:
    if path.suffix.lower() == ".zip":
        return path.stem
    if model.stem.lower() == "model":
        parent = model.parent
        if parent.name.lower() == "avatar" and parent.parent.name:
            parent = parent.parent
        if parent.name:
            return parent.name
    return model.stem


def _archive_dir(path: Path, cache_root: Path) -> Path:
    """Where a referenced (not packed) archive import keeps its files: one folder per
    archive content, under the cache (not cleared with downloads)."""
    return cache_root / "imports" / file_sha256(path)[:16]


def import_avatar_file(
    path: Path,
    *,
    name: str = "",
    texture_folder: Path | None = None,
    pack_images: bool = True,
    at_cursor: bool = False,
    metre_scale: bool = True,
    fixups: bool = True,
    transparent_bounces: bool = True,
    cache_root: Path | None = None,
    context: Any = None,
) -> ImportResult:
    """Import a downloaded avatar export: a ``.zip`` archive (``avatar/model.glb`` or the
    only model inside, with its textures), a ``.glb`` or a ``.gltf``.

    Textures: from the archive / beside the model, then the static-resource cache
    (``cache_root``, default: the add-on's), then ``texture_folder``. Missing ones are
    imported as placeholders and listed in ``missing_images`` and ``warnings``.
    ``pack_images=False`` references the files; an archive is then kept extracted under
    the cache so the references stay valid. Raises ``AvatarImporterError`` subclasses
    (nothing is left in the scene then)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path.name}: expected one of {', '.join(SUFFIXES)}")
    root = Path(cache_root) if cache_root is not None else default_cache()
    search: list[Any] = [static_cache_map(root)]
    folder = Path(texture_folder).expanduser() if texture_folder else None
    if folder is not None:
        if not folder.is_dir():
            raise InputError(f"The textures folder {folder} does not exist")
        search.append(folder)
    hint = folder or path.parent
    options: dict[str, Any] = dict(
        pack_images=pack_images, context=context, at_cursor=at_cursor,
        metre_scale=metre_scale, fixups=fixups, transparent_bounces=transparent_bounces,
        raise_on_missing=False, missing_dir=hint)

    if suffix != ".zip":
        return import_avatar_glb(path, name=name or _default_name(path, path),
                                 search=search, **options)

    with tempfile.TemporaryDirectory(prefix="avatar_export_") as temp:
        dest = Path(temp) / "export" if pack_images else _archive_dir(path, root)
        files = extract_zip(path, dest)
        model = find_model(files)
        result = import_avatar_glb(model, name=name or _default_name(path, model),
                                   search=search, **options)
        for info in result.images:
            if info.get("source") != SOURCE_BESIDE:
                continue
            info["source"] = SOURCE_ARCHIVE
            if pack_images:  # the extraction is temporary: name the file by its origin
                extracted = Path(info["filepath"])
                image = bpy.data.images.get(info["name"])
                if image is not None:  # unpacking writes it to //textures/ by default
                    image.filepath_raw = f"//{PORTABLE_FOLDER}/{extracted.name}"
                with contextlib.suppress(ValueError):
                    member = extracted.relative_to(dest.resolve()).as_posix()
                    info["filepath"] = f"{path.name}/{member}"
    result.source_file = str(path)
    return result


# --- make portable -----------------------------------------------------------------------


@dataclass
class PortableResult:
    copied: list[str] = field(default_factory=list)  # image names whose file was copied
    relinked: list[str] = field(default_factory=list)  # made relative, no copy needed
    missing: list[str] = field(default_factory=list)  # file not found: left as it was
    unchanged: int = 0  # packed, generated, or already relative and present


def _free_destination(folder: Path, src: Path) -> Path:
    """``folder/src.name``, or ``name_2.ext``... when a different file already has it."""
    candidate = folder / src.name
    counter = 2
    while candidate.exists() and not filecmp.cmp(candidate, src, shallow=False):
        candidate = folder / f"{src.stem}_{counter}{src.suffix}"
        counter += 1
    return candidate


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def make_portable(images: Iterable[Any], blend_path: Path,
                  folder: str = PORTABLE_FOLDER) -> PortableResult:
    """Copy the files of the given external images next to the saved ``blend_path`` (into
    ``folder``) and point the images there with relative ``//`` paths. Files already
    beside the .blend are only made relative. Packed and generated images are skipped."""
    blend_dir = Path(blend_path).resolve().parent
    target = blend_dir / folder
    out = PortableResult()
    for image in images:
        if image.library is not None or image.packed_file is not None \
                or image.source not in ("FILE", "SEQUENCE", "TILED") or not image.filepath:
            out.unchanged += 1
            continue
        src = Path(bpy.path.abspath(image.filepath))
        if not src.is_file():
            out.missing.append(image.name)
            continue
        if _inside(src, blend_dir):
            rel = bpy.path.relpath(str(src), start=str(blend_dir))
            if image.filepath == rel:
                out.unchanged += 1
            else:
                image.filepath = rel
                out.relinked.append(image.name)
            continue
        target.mkdir(parents=True, exist_ok=True)
        dest = _free_destination(target, src)
        if not dest.exists():
            shutil.copy2(src, dest)
        image.filepath = bpy.path.relpath(str(dest), start=str(blend_dir))
        out.copied.append(image.name)
    return out


# --- operators ----------------------------------------------------------------------------


# the stubs type ImportHelper's invoke/check unlike Operator's: Blender's own pattern
class IMPORT_SCENE_OT_avatar_export(bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Import an avatar export downloaded elsewhere (MetaPerson archive or GLB, Avaturn GLB)
    with the add-on's material fix-ups; missing textures are reported by name"""

    bl_idname = "import_scene.avatar_export"
    bl_label = "Import Avatar Export"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".zip"
    filter_glob: StringProperty(default="*.zip;*.glb;*.gltf",  # type: ignore[valid-type]
                                options={"HIDDEN"})
    avatar_name: StringProperty(  # type: ignore[valid-type]
        name="Name", description="The avatar's collection and armature name "
        "(default: the file's name)")
    texture_folder: StringProperty(  # type: ignore[valid-type]
        name="Textures Folder", subtype="DIR_PATH",
        description="Where to look for textures the export does not contain (after the "
        "archive and the add-on's texture cache)")
    pack_images: import_props.pack_textures()  # type: ignore[valid-type]
    at_cursor: import_props.at_cursor()  # type: ignore[valid-type]
    metre_scale: BoolProperty(  # type: ignore[valid-type]
        name="Real Size (Metres)", default=True,
        description="glTF is in metres: when the scene's unit scale is not 1, scale the "
        "avatar so it keeps its real size")
    fixups: BoolProperty(  # type: ignore[valid-type]
        name="Fix Materials", default=True,
        description="Per-part fixes: dithered hair, blended eyelashes, clear corneas, "
        "back-face settings")
    transparent_bounces: import_props.transparent_bounces()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        _State.messages = []
        folder = Path(bpy.path.abspath(self.texture_folder)) if self.texture_folder else None
        try:
            result = import_avatar_file(
                Path(bpy.path.abspath(self.filepath)),  # type: ignore[attr-defined]
                name=self.avatar_name.strip(),
                texture_folder=folder, pack_images=self.pack_images,
                at_cursor=self.at_cursor, metre_scale=self.metre_scale,
                fixups=self.fixups, transparent_bounces=self.transparent_bounces,
                context=context)
        except AvatarImporterError as exc:
            self._say("ERROR", str(exc))
            return {"CANCELLED"}
        _State.results.append(result)
        del _State.results[:-10]
        for warning in result.warnings:  # missing textures first, each by name
            self._say("WARNING", f"{result.collection_name}: {warning}")
        if not result.missing_images:
            adjusted = sum(1 for m in result.materials if m.get("changes"))
            self._say("INFO", f"Imported {result.collection_name}: {len(result.objects)} "
                      f"objects, {len(result.images)} images, {adjusted} materials adjusted")
        return {"FINISHED"}

    def _say(self, level: str, text: str) -> None:
        _State.messages.append((level, text))
        self.report({level}, text)  # type: ignore[arg-type]


class AVATAR_IMPORTER_OT_make_portable(bpy.types.Operator):
    """Copy the textures the .blend references from elsewhere (e.g. the avatar cache) into
    a 'textures' folder next to it and relink them relatively, so the .blend can move"""

    bl_idname = "avatar_importer.make_portable"
    bl_label = "Make Avatar Textures Portable"
    bl_options = {"REGISTER", "UNDO"}

    scope: EnumProperty(  # type: ignore[valid-type]
        name="Textures", default="AVATARS",
        items=[("AVATARS", "Avatars", "Only textures of imported avatars"),
               ("ALL", "All", "Every external texture of this .blend")])

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not bpy.data.is_saved:
            cls.poll_message_set("Save the .blend first: textures are copied next to it")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        images = [img for img in bpy.data.images
                  if self.scope == "ALL"
                  or img.get(IMAGE_TAG) is not None]  # type: ignore[func-returns-value]
        try:
            done = make_portable(images, Path(bpy.data.filepath))
        except OSError as exc:
            self.report({"ERROR"}, f"Cannot copy textures: {exc.strerror or exc}")
            return {"CANCELLED"}
        if done.missing:
            self.report({"WARNING"}, f"{len(done.missing)} texture file(s) not found, left "
                        "as they were: " + ", ".join(done.missing))
        self.report({"INFO"}, f"{len(done.copied)} texture(s) copied to //{PORTABLE_FOLDER}/, "
                    f"{len(done.relinked)} relinked: save the .blend to keep this")
        return {"FINISHED"}


CLASSES: tuple[type, ...] = (
    IMPORT_SCENE_OT_avatar_export,
    AVATAR_IMPORTER_OT_make_portable,
)


def _menu_import(self: Any, context: Any) -> None:
    self.layout.operator(IMPORT_SCENE_OT_avatar_export.bl_idname,
                         text="Avatar export (.zip, .glb, .gltf)")


def _menu_external_data(self: Any, context: Any) -> None:
    self.layout.separator()
    self.layout.operator(AVATAR_IMPORTER_OT_make_portable.bl_idname)


def register_menus() -> None:
    """Call after the CLASSES are registered."""
    bpy.types.TOPBAR_MT_file_import.append(_menu_import)
    bpy.types.TOPBAR_MT_file_external_data.append(_menu_external_data)


def unregister_menus() -> None:
    """Call before the CLASSES are unregistered."""
    bpy.types.TOPBAR_MT_file_import.remove(_menu_import)
    bpy.types.TOPBAR_MT_file_external_data.remove(_menu_external_data)
    _State.results.clear()
    _State.messages.clear()
