"""Every Blender-version difference the add-on knows about, in one place.

``bpy.app.version`` is checked here and nowhere else; callers ask a question
(``online_access_allowed()``) or request an effect (``set_material_alpha(...)``).
Supported: Blender 3.4 (Debian's build) up to 5.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import bpy

AlphaMode = Literal["BLEND", "HASHED", "OPAQUE"]


def version() -> tuple[int, int, int]:
    """The running Blender's version as a 3-tuple."""
    major, minor, patch = tuple(bpy.app.version)[:3]
    return (major, minor, patch)


def ensure_numpy_bool_alias() -> None:
    """Blender 3.4's glTF importer uses ``np.bool``, which numpy 1.24 removed. Restore it
    when absent (harmless for every other user of numpy)."""
    try:
        import numpy as np
    except ImportError:
        return
    if "bool" not in np.__dict__:
        np.bool = bool  # type: ignore[attr-defined]


def gltf_import_kwargs(**wanted: Any) -> dict[str, Any]:
    """Keep only the options the running glTF importer has (passing an unknown one raises
    ``TypeError``). ``filepath`` is always kept."""
    props = bpy.ops.import_scene.gltf.get_rna_type().properties  # type: ignore[call-arg]
    known = {prop.identifier for prop in props}
    return {key: value for key, value in wanted.items() if key in known or key == "filepath"}


#: the glTF importer's mesh module by version (3.4-4.2, then 4.3+), and the lines of its
#: ``create_mesh`` that ``importing.free_ids.cheap_temporary_objects`` relies on
_GLTF_MESH_MODULES = ("io_scene_gltf2.blender.imp.mesh",
                      "io_scene_gltf2.blender.imp.gltf2_blender_mesh")
_GLTF_TEMP_OBJECT_LINES = ("tmp_ob = bpy.data.objects.new('##gltf-import:tmp-object##', mesh)",
                           "bpy.data.objects.remove(tmp_ob)")
_gltf_mesh_module: list[Any] = []


def gltf_mesh_module() -> Any | None:
    """The glTF importer's mesh module when it makes and deletes a temporary object per
    mesh the way ``free_ids`` expects (checked in its source once per process); None
    otherwise (a later importer: it is then left as it is)."""
    if not _gltf_mesh_module:
        import importlib
        import inspect

        found = None
        for name in _GLTF_MESH_MODULES:
            try:
                module = importlib.import_module(name)
                source = inspect.getsource(module)
            except (ImportError, OSError, TypeError):
                continue
            if all(line in source for line in _GLTF_TEMP_OBJECT_LINES):
                found = module
                break
        _gltf_mesh_module.append(found)
    return _gltf_mesh_module[0]


def datablock_ids(collection: Any) -> list[int]:
    """An identity per datablock of ``collection`` (a ``bpy.data`` collection), in its
    order: ``session_uid`` read in one call (4.2+: ``foreach_get``), else each datablock's
    address (3.4 has no ``session_uid`` in RNA)."""
    if bpy.app.version >= (4, 2, 0):
        ids = [0] * len(collection)
        collection.foreach_get("session_uid", ids)
        return ids
    return [item.as_pointer() for item in collection]


def set_material_alpha(mat: Any, mode: AlphaMode) -> None:
    """Render ``mat`` blended, dithered (hashed) or opaque in EEVEE and the viewport."""
    if mode not in ("BLEND", "HASHED", "OPAQUE"):
        raise ValueError(f"unknown alpha mode {mode!r}")
    if version() >= (4, 2, 0):
        mat.surface_render_method = "BLENDED" if mode == "BLEND" else "DITHERED"
        return
    mat.blend_method = mode
    mat.shadow_method = "OPAQUE" if mode == "OPAQUE" else "HASHED"


def has_layout_progress() -> bool:
    """Whether ``UILayout.progress`` (a progress bar widget, Blender 4.0+) exists."""
    if version() < (4, 0, 0):
        return False
    functions = bpy.types.UILayout.bl_rna.functions  # type: ignore[attr-defined]
    return functions.get("progress") is not None


def draw_progress(layout: Any, fraction: float, text: str) -> None:
    """A progress bar where Blender has one (4.0+), a text line otherwise."""
    if has_layout_progress():
        layout.progress(factor=fraction, type="BAR", text=text)
    else:
        layout.label(text=text)  # the text already carries the stage's own progress


def allow_online_access_for_batch() -> None:
    """The batch script is an explicit request to go online: allow it for this session
    only, unless Blender was started with ``--offline-mode`` (then refuse, clearly)."""
    if version() < (4, 2, 0):
        return
    if getattr(bpy.app, "online_access_override", False) and not bpy.app.online_access:
        from ..core.errors import OfflineError
        raise OfflineError("Blender was started with --offline-mode: the batch import "
                           "needs online access")
    if not bpy.app.online_access:
        bpy.context.preferences.system.use_online_access = True


def system_network_timeout() -> float | None:
    """Blender's own network timeout (Preferences > System > Network, 4.2+), if set."""
    system = bpy.context.preferences.system
    value = getattr(system, "network_timeout", 0)
    return float(value) if value else None


def online_access_allowed() -> bool:
    """Blender 4.2+ has a user setting forbidding network access; earlier ones do not."""
    if version() < (4, 2, 0):
        return True
    return bool(getattr(bpy.app, "online_access", True))


def extension_cache_dir(package: str, create: bool = True) -> Path | None:
    """The extension's writable cache folder (created unless ``create`` is False), or None
    when the add-on is not loaded as an extension (legacy install, tests) or Blender
    predates extensions."""
    try:
        return Path(bpy.utils.extension_path_user(package, path="cache", create=create))
    except (ValueError, AttributeError):
        return None


def world_background(world: Any, color: tuple[float, float, float], strength: float) -> None:
    """Give ``world`` a uniform background light (node based; ``use_nodes`` is implied
    and deprecated in 5.0)."""
    if version() < (5, 0, 0) or not world.node_tree:
        world.use_nodes = True
    tree = world.node_tree
    background = next((n for n in tree.nodes if n.type == "BACKGROUND"), None)
    if background is None:
        background = tree.nodes.new("ShaderNodeBackground")
        output = next((n for n in tree.nodes if n.type == "OUTPUT_WORLD"), None)
        if output is None:
            output = tree.nodes.new("ShaderNodeOutputWorld")
        tree.links.new(background.outputs["Background"], output.inputs["Surface"])
    background.inputs["Color"].default_value = (*color, 1.0)
    background.inputs["Strength"].default_value = strength
    world.color = color


# --- material surface settings (import fix-ups, issue 5) -----------------------------------

ShadowMode = Literal["OPAQUE", "HASHED", "NONE"]


def set_material_surface(
    mat: Any, *, alpha: AlphaMode, shadow: ShadowMode, backface_culling: bool,
    see_through_back: bool | None = None,
) -> list[str]:
    """How ``mat`` is drawn in EEVEE and the viewport: alpha handling (``set_material_alpha``),
    shadows (``NONE``: casts none before 4.2; 4.2+ has no per-material switch, so ``NONE``
    means transparent shadows and the caller hides the object from shadow rays),
    back-face culling and, for blended materials, whether back faces show through.
    Returns what was set, in the running version's own terms (for the import report)."""
    set_material_alpha(mat, alpha)
    done: list[str] = []
    if version() >= (4, 2, 0):
        mat.use_transparent_shadow = shadow != "OPAQUE"
        done.append(f"render method {mat.surface_render_method.lower()}")
        done.append("transparent shadow" if shadow != "OPAQUE" else "opaque shadow")
        if see_through_back is not None:
            mat.use_transparency_overlap = see_through_back
            done.append("transparency overlap " + ("on" if see_through_back else "off"))
    else:
        mat.shadow_method = shadow
        done.append(f"blend mode {mat.blend_method.lower()}")
        done.append(f"shadow mode {shadow.lower()}")
        if see_through_back is not None:
            mat.show_transparent_back = see_through_back
            done.append("show backface " + ("on" if see_through_back else "off"))
    mat.use_backface_culling = backface_culling
    done.append("back faces culled" if backface_culling else "both sides drawn")
    return done


def material_surface(mat: Any) -> dict[str, Any]:
    """The settings ``set_material_surface`` writes, read back under version-neutral keys:
    ``method`` (4.2+: DITHERED/BLENDED; before: the blend mode), ``shadow`` (4.2+:
    TRANSPARENT/OPAQUE; before: the shadow mode), ``backface_culling``, ``see_through_back``."""
    if version() >= (4, 2, 0):
        return {
            "method": str(mat.surface_render_method),
            "shadow": "TRANSPARENT" if mat.use_transparent_shadow else "OPAQUE",
            "backface_culling": bool(mat.use_backface_culling),
            "see_through_back": bool(mat.use_transparency_overlap),
        }
    return {
        "method": str(mat.blend_method),
        "shadow": str(mat.shadow_method),
        "backface_culling": bool(mat.use_backface_culling),
        "see_through_back": bool(mat.show_transparent_back),
    }


# --- keyframes on any ID: shape keys and pose bones (face capture, lip-sync; issue 14) ---
# Blender 4.4 added action slots (an action holds channels per slot, the ID picks its
# slot); 5.0 dropped the legacy ``Action.fcurves``. Keys are written through these
# helpers only. Named ``id_*`` so they stay apart from the body retargeting's helpers.


def _has_slots() -> bool:
    return version() >= (4, 4, 0)


def id_action(id_block: Any) -> Any | None:
    """The action assigned to ``id_block`` (an Object, a shape-key ``Key``, ...), or None."""
    anim = getattr(id_block, "animation_data", None)
    return anim.action if anim is not None else None


def id_action_slot(id_block: Any) -> Any | None:
    """The action slot ``id_block`` is animated by (4.4+), else None."""
    anim = getattr(id_block, "animation_data", None)
    if anim is None or not _has_slots():
        return None
    return anim.action_slot


def id_action_assign(id_block: Any, action: Any | None, slot: Any | None = None) -> None:
    """Animate ``id_block`` with ``action`` (None: with nothing). 4.4+: with ``slot`` when
    given, else the slot Blender picks (the one for this ID), else a new one for its type."""
    anim = id_block.animation_data
    if anim is None:
        if action is None:
            return
        anim = id_block.animation_data_create()
    anim.action = action
    if action is None or not _has_slots():
        return
    if slot is not None:
        anim.action_slot = slot
    elif anim.action_slot is None:
        kinds = (id_block.id_type, "UNSPECIFIED")
        suitable = [s for s in action.slots if s.target_id_type in kinds]
        anim.action_slot = suitable[0] if suitable else action.slots.new(
            id_type=id_block.id_type, name=id_block.name)


def _channelbag(id_block: Any, create: bool) -> Any | None:
    """The channel bag of ``id_block``'s slot in its action's first keyframe strip (4.4+),
    created when asked (4.5 has no ``anim_utils.action_ensure_channelbag_for_slot``)."""
    action, slot = id_action(id_block), id_action_slot(id_block)
    if action is None or slot is None:
        return None
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return bag
    if not create:
        return None
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def id_fcurves(id_block: Any) -> list[Any]:
    """The F-curves animating ``id_block`` through its assigned action (and slot)."""
    if not _has_slots():
        action = id_action(id_block)
        return list(action.fcurves) if action is not None else []
    bag = _channelbag(id_block, create=False)
    return list(bag.fcurves) if bag is not None else []


def id_fcurve_find(id_block: Any, data_path: str, index: int = 0) -> Any | None:
    if not _has_slots():
        action = id_action(id_block)
        return action.fcurves.find(data_path, index=index) if action is not None else None
    bag = _channelbag(id_block, create=False)
    return bag.fcurves.find(data_path, index=index) if bag is not None else None


def id_fcurve_new(id_block: Any, data_path: str, index: int = 0, group: str = "") -> Any:
    """A new, empty F-curve for ``data_path[index]`` in ``id_block``'s action (assign the
    action first); an existing one for that channel is replaced."""
    old = id_fcurve_find(id_block, data_path, index)
    if not _has_slots():
        action = id_action(id_block)
        if old is not None:
            action.fcurves.remove(old)
        return action.fcurves.new(data_path, index=index, action_group=group)
    bag = _channelbag(id_block, create=True)
    if old is not None:
        bag.fcurves.remove(old)
    fcurve = bag.fcurves.new(data_path, index=index)  # 4.5 has no group_name here
    if group:
        fcurve.group = bag.groups.get(group) or bag.groups.new(group)
    return fcurve


# --- animation: importers and actions (issue 14) -------------------------------------------


def import_bvh(filepath: str, **options: Any) -> Any:
    """Blender's BVH importer (``bpy.ops.import_anim.bvh``). Before 4.0 it opens the file
    with mode ``'rU'``, which Python 3.11 removed (Debian's 3.4 runs on 3.11): for the
    length of the call the importer module sees an ``open`` that drops the ``U``."""
    if version() >= (4, 0, 0):
        return bpy.ops.import_anim.bvh(filepath=filepath, **options)
    import builtins

    from io_anim_bvh import import_bvh as module  # type: ignore[import-not-found]

    def open_without_u(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return builtins.open(file, mode.replace("U", ""), *args, **kwargs)

    had = "open" in module.__dict__
    previous = module.__dict__.get("open")
    module.open = open_without_u
    try:
        return bpy.ops.import_anim.bvh(filepath=filepath, **options)
    finally:
        if had:
            module.open = previous
        else:
            del module.open


def action_assignment(obj: Any) -> tuple[Any, Any]:
    """``(action, slot)`` the object plays now (slot None before 4.4 or when unset)."""
    ad = obj.animation_data
    if ad is None:
        return None, None
    return ad.action, getattr(ad, "action_slot", None)


def restore_action_assignment(obj: Any, state: tuple[Any, Any], had_animation_data: bool
                              ) -> None:
    """Undo :func:`assign_action` with what :func:`action_assignment` returned before."""
    action, slot = state
    if not had_animation_data:
        if obj.animation_data is not None:
            obj.animation_data_clear()
        return
    ad = obj.animation_data_create()
    ad.action = action
    if slot is not None and version() >= (4, 4, 0):
        ad.action_slot = slot


class ActionWriter:
    """Creates the F-curves of a new action meant for one object, in the running version's
    layout: ``action.fcurves`` before 4.4; from 4.4 on a slot for the object, a layer, a
    keyframe strip and its channel bag (the only layout 5.0 has). :meth:`assign` puts the
    action (and its slot) on the object."""

    def __init__(self, name: str, obj: Any) -> None:
        self.obj = obj
        actions: Any = bpy.data.actions  # slots and layers (4.4+) are not in the 4.2 stubs
        self.action: Any = actions.new(name)
        self._groups: dict[str, Any] = {}
        self._bag: Any = None
        self._slot: Any = None
        if version() >= (4, 4, 0):
            self._slot = self.action.slots.new(id_type="OBJECT", name=obj.name)
            layer = self.action.layers.new("Layer")
            strip = layer.strips.new(type="KEYFRAME")
            self._bag = strip.channelbag(self._slot, ensure=True)

    def fcurve(self, data_path: str, index: int, group: str) -> Any:
        if self._bag is None:
            return self.action.fcurves.new(data_path, index=index, action_group=group)
        fcurve = self._bag.fcurves.new(data_path, index=index)
        if group not in self._groups:
            self._groups[group] = self._bag.groups.new(group)
        fcurve.group = self._groups[group]
        return fcurve

    def assign(self) -> None:
        ad = self.obj.animation_data_create()
        ad.action = self.action
        if self._slot is not None:
            ad.action_slot = self._slot


def action_fcurves(action: Any) -> list[Any]:
    """Every F-curve of ``action``: ``action.fcurves`` before 4.4, the channel bags of its
    layers' strips from 4.4 on (5.0 has nothing else)."""
    if version() < (4, 4, 0):
        return list(action.fcurves)
    out: list[Any] = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", ()):
                out.extend(bag.fcurves)
    return out


def select_pose_bone(armature: Any, name: str, state: bool) -> None:
    """Select a bone for pose-mode operators: on the pose bone from 5.0, on the bone
    before."""
    if version() >= (5, 0, 0):
        armature.pose.bones[name].select = state
    else:
        armature.data.bones[name].select = state


# --- Cycles denoising (preview render, issue 11) -------------------------------------------


def cycles_cpu_denoiser() -> str | None:
    """The Cycles denoiser that runs on the CPU in this build: ``"OPENIMAGEDENOISE"`` when
    Cycles was built with it (the official 4.2+ wheels are; Debian's 3.4.1 is not), else
    None."""
    try:
        import _cycles  # Cycles' own module: present whenever Cycles is
    except ImportError:
        return None
    return "OPENIMAGEDENOISE" if getattr(_cycles, "with_openimagedenoise", False) else None


def set_preview_image(idblock: Any, width: int, height: int, pixels: Any) -> None:
    """Set ``idblock``'s preview (the Asset Browser's thumbnail) from RGBA floats, without
    rendering (``asset_generate_preview`` needs a GPU context, absent headless)."""
    preview = idblock.preview_ensure()
    preview.image_size = (width, height)
    preview.image_pixels_float.foreach_set(pixels)


def partial_write_keeps_previews() -> bool:
    """Whether ``bpy.data.libraries.write`` (a partial .blend) keeps the written IDs'
    previews. Blender 5.0 drops them (checked with the 5.0.1 wheel: a collection's custom
    preview is gone from the partial file, present in a full save); 4.2 and 4.5 keep them."""
    return version() < (5, 0, 0)
