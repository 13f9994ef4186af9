"""A quick Cycles (CPU) preview picture of an imported avatar.

Everything the render needs (camera, sun, a light world, render settings) is put in
temporarily and taken out again afterwards: the user's scene keeps its own camera,
world and output settings. Works in background mode (the bpy module) because Cycles
renders on the CPU without a GPU context.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bpy
from mathutils import Vector

from .. import compat

_TAG = "avatar_importer_preview"
_MARGIN = 1.08
#: without a denoiser the preview takes this many times the samples it was asked for
#: (and at least ``_UNDENOISED_MIN_SAMPLES``): the transparent corneas speckle otherwise
_UNDENOISED_SAMPLE_FACTOR = 4
_UNDENOISED_MIN_SAMPLES = 32


def _world_bounds(objects: Iterable[Any]) -> tuple[Vector, Vector] | None:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    lo = Vector((math.inf, math.inf, math.inf))
    hi = Vector((-math.inf, -math.inf, -math.inf))
    found = False
    for obj in objects:
        if obj.type not in {"MESH", "CURVE", "SURFACE", "META", "FONT"}:
            continue
        evaluated = obj.evaluated_get(depsgraph)
        for corner in evaluated.bound_box:
            point = evaluated.matrix_world @ Vector(corner)
            lo = Vector([min(lo[i], point[i]) for i in range(3)])
            hi = Vector([max(hi[i], point[i]) for i in range(3)])
            found = True
    return (lo, hi) if found else None


@contextmanager
def _saved_attrs(owner: Any, names: Iterable[str]) -> Iterator[None]:
    saved = {n: getattr(owner, n) for n in names if hasattr(owner, n)}
    try:
        yield
    finally:
        for name, value in saved.items():
            with contextlib.suppress(AttributeError, TypeError, ValueError, ReferenceError):
                setattr(owner, name, value)


def _place_camera(camera: Any, bounds: tuple[Vector, Vector], aspect: float) -> None:
    """In front of the avatar (it faces -Y), looking +Y, fitting the bounding box."""
    lo, hi = bounds
    center = (lo + hi) / 2
    width = max(hi.x - lo.x, 1e-3)
    height = max(hi.z - lo.z, 1e-3)
    depth = max(hi.y - lo.y, 0.0)
    cam = camera.data
    cam.sensor_fit = "AUTO"
    half_h_fov = cam.angle / 2 if aspect >= 1 else math.atan(math.tan(cam.angle / 2) * aspect)
    half_v_fov = math.atan(math.tan(half_h_fov) / aspect)
    distance = max(
        (width / 2) * _MARGIN / math.tan(half_h_fov),
        (height / 2) * _MARGIN / math.tan(half_v_fov),
    ) + depth / 2
    cam.clip_start = max(distance / 1000, 0.001)
    cam.clip_end = distance * 10 + depth
    camera.location = (center.x, center.y - distance, center.z)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)


def _targets(objects: Iterable[Any] | None) -> list[Any]:
    view_layer = bpy.context.view_layer
    return list(objects) if objects is not None else [
        o for o in view_layer.objects if o.type == "MESH" and o.visible_get()
    ]


@contextmanager
def _preview_setup(
    targets: list[Any], size: tuple[int, int], samples: int, hide: Iterable[Any] = (),
    denoise: bool = True,
) -> Iterator[Any]:
    """The preview's camera, sun, world and render settings, in place for the ``with``
    block (yields the camera); everything is taken out and restored afterwards.

    ``denoise``: Cycles' OpenImageDenoise when the build has it; otherwise more samples
    and clamped indirect light. At a preview's few samples the transparent corneas
    otherwise sparkle with white speckles over the irises."""
    scene = bpy.context.scene
    bounds = _world_bounds(targets)
    if bounds is None:
        raise ValueError("Nothing to render: no mesh objects to frame")

    render = scene.render
    image_settings = render.image_settings
    cycles = getattr(scene, "cycles", None)
    created: list[Any] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(_saved_attrs(scene, ["camera", "world"]))
        stack.enter_context(_saved_attrs(render, [
            "engine", "resolution_x", "resolution_y", "resolution_percentage",
            "film_transparent", "use_border", "use_compositing", "use_sequencer",
        ]))
        stack.enter_context(_saved_attrs(image_settings, [
            "file_format", "color_mode", "color_depth",
        ]))
        if cycles is not None:
            stack.enter_context(_saved_attrs(cycles, [
                "device", "samples", "use_denoising", "transparent_max_bounces",
                "max_bounces", "use_adaptive_sampling", "denoiser", "sample_clamp_indirect",
            ]))
        for obj in hide:
            stack.enter_context(_saved_attrs(obj, ["hide_render"]))
            obj.hide_render = True
        try:
            camera_data = bpy.data.cameras.new(f"{_TAG}_camera")
            created.append(camera_data)
            camera = bpy.data.objects.new(f"{_TAG}_camera", camera_data)
            created.append(camera)
            sun_data = bpy.data.lights.new(f"{_TAG}_sun", type="SUN")
            created.append(sun_data)
            sun_data.energy = 3.0  # type: ignore[attr-defined]
            sun = bpy.data.objects.new(f"{_TAG}_sun", sun_data)
            created.append(sun)
            sun.rotation_euler = (math.radians(60), 0.0, math.radians(-25))
            world = bpy.data.worlds.new(f"{_TAG}_world")
            created.append(world)
            compat.world_background(world, (0.8, 0.8, 0.8), 1.0)
            for obj in (camera, sun):
                scene.collection.objects.link(obj)

            width, height = size
            render.engine = "CYCLES"
            render.resolution_x, render.resolution_y = int(width), int(height)
            render.resolution_percentage = 100
            render.film_transparent = False
            render.use_border = False
            image_settings.file_format = "PNG"
            image_settings.color_mode = "RGB"
            image_settings.color_depth = "8"
            if cycles is not None:
                cycles.device = "CPU"
                _set_noise(cycles, int(samples), denoise)
                cycles.transparent_max_bounces = max(cycles.transparent_max_bounces, 64)
            scene.world = world
            scene.camera = camera
            _place_camera(camera, bounds, width / height)
            yield camera
        finally:
            for block in reversed(created):
                with contextlib.suppress(ReferenceError):
                    bpy.data.batch_remove([block])


def _set_noise(cycles: Any, samples: int, denoise: bool) -> None:
    denoiser = compat.cycles_cpu_denoiser() if denoise else None
    cycles.use_denoising = denoiser is not None
    if denoiser is not None:
        cycles.denoiser = denoiser
        cycles.samples = samples
    elif denoise:
        cycles.samples = max(samples * _UNDENOISED_SAMPLE_FACTOR, _UNDENOISED_MIN_SAMPLES)
        cycles.sample_clamp_indirect = 1.0
    else:
        cycles.samples = samples


def render_preview(
    path: Path,
    *,
    objects: list | None = None,
    size: tuple[int, int] = (320, 240),
    samples: int = 8,
    hide: Iterable[Any] = (),
    denoise: bool = True,
) -> Path:
    """Render the scene framed on ``objects`` (default: every visible mesh) to a PNG at
    ``path`` and return it; ``hide``: objects left out of this render only. The scene is
    left as it was found. ``denoise=False``: the raw ``samples`` (for comparisons)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene = bpy.context.scene
    # Blender reports a failed save on stdout without raising: write beside, then move
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    try:
        with _preview_setup(_targets(objects), size, samples, hide, denoise):
            bpy.ops.render.render(write_still=False)
            result = bpy.data.images.get("Render Result")
            if result is None:
                raise RuntimeError("Blender produced no render result")
            result.save_render(str(partial), scene=scene)
        if not partial.is_file():
            raise RuntimeError(f"Blender could not write the preview next to {path}")
        os.replace(partial, path)
    except OSError as exc:
        raise RuntimeError(f"Cannot write the preview {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return path


def preview_rect(
    measured: Iterable[Any], *, objects: list | None = None,
    size: tuple[int, int] = (320, 240),
) -> tuple[int, int, int, int] | None:
    """Where ``measured`` objects appear in ``render_preview(objects=objects, size=size)``:
    the pixel box ``(x0, y0, x1, y1)`` (inclusive; origin bottom-left, as in
    ``Image.pixels``) around their bounding boxes, clipped to the picture; None when none
    is in view. Nothing is rendered."""
    from bpy_extras.object_utils import world_to_camera_view

    width, height = size
    scene: Any = bpy.context.scene
    with _preview_setup(_targets(objects), size, 1) as camera:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        xs: list[float] = []
        ys: list[float] = []
        for obj in measured:
            evaluated = obj.evaluated_get(depsgraph)
            for corner in evaluated.bound_box:
                point = world_to_camera_view(scene, camera,
                                             evaluated.matrix_world @ Vector(corner))
                if point.z > 0:
                    xs.append(point.x)
                    ys.append(point.y)
    if not xs:
        return None
    x0 = max(0, math.floor(min(xs) * width))
    x1 = min(width - 1, math.ceil(max(xs) * width))
    y0 = max(0, math.floor(min(ys) * height))
    y1 = min(height - 1, math.ceil(max(ys) * height))
    if x0 > x1 or y0 > y1:
        return None
    return x0, y0, x1, y1
