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
