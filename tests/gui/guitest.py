"""Shared helpers for the GUI tests: Debian's Blender 3.4 in a real window under Xvfb.

A GUI test is a ``-P`` script that must NOT block: it sets things up, hands a generator
of steps to :func:`run` and returns, so Blender's own event loop runs (timers, redraws,
operators, the add-on's ``pump_tick``). :func:`run` advances the generator from a
``bpy.app.timers`` callback; each ``yield <seconds>`` gives the event loop that long.
The process's exit code is the verdict (``os._exit``: exceptions raised in a timer never
reach Blender's exit code): 0 when the generator ends, 1 on any exception (its traceback
is printed) or when the overall time limit passes.

Run one test the way ``tests/gui/run_gui_tests.sh`` does::

    xvfb-run -a -s "-screen 0 1280x800x24" blender --factory-startup \\
        --python-exit-code 1 START.blend -P tests/gui/test_panel_create.py

(START.blend, any saved file, only skips the splash screen.)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import addon_utils
import bpy

REPO = Path(os.environ.get("AVATAR_IMPORTER_REPO") or Path(__file__).resolve().parents[2])
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ADDON = "avatar_importer"
WORKER_THREAD_PREFIXES = ("avatar-job", "avatar-static")
T0 = time.monotonic()

Steps = Generator[float, None, None]


class Failure(AssertionError):
    """A test expectation that did not hold."""


def log(message: str) -> None:
    print(f"[gui {time.monotonic() - T0:6.2f}s] {message}", flush=True)


def check(condition: Any, message: str) -> None:
    if not condition:
        raise Failure(message)


# --- the driver ---------------------------------------------------------------------------


def run(steps: Callable[[], Steps], *, name: str, time_limit: float = 150.0,
        on_failure: Callable[[], None] | None = None) -> None:
    """Advance ``steps()`` from a timer until it ends (exit 0) or raises (exit 1).

    ``time_limit`` bounds the whole test (seconds from now). ``on_failure`` is called
    (best effort) before exiting 1, e.g. to take a screenshot or disable the add-on.
    """
    gen = steps()
    deadline = time.monotonic() + time_limit

    def fail(text: str) -> None:
        print(text, file=sys.stderr, flush=True)
        if on_failure is not None:
            try:
                on_failure()
            except BaseException:  # already failing: show this one too and exit 1
                traceback.print_exc()
        finish(name, 1)

    def tick() -> float | None:
        try:
            if time.monotonic() > deadline:
                raise Failure(f"{name}: over the time limit of {time_limit:.0f} s")
            delay = next(gen)
        except StopIteration:
            finish(name, 0)
        except BaseException:  # in a timer nothing else would reach the exit code
            fail(traceback.format_exc())
        return max(0.0, float(delay))

    bpy.app.timers.register(tick, first_interval=0.1, persistent=True)
    log(f"{name}: driver timer registered; Blender's event loop takes over")


def finish(name: str, code: int) -> None:
    verdict = "PASSED" if code == 0 else "FAILED"
    log(f"{name}: {verdict} (exit code {code})")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               poll: float = 0.05) -> Steps:
    """``yield from wait_until(...)``: let the event loop run until ``condition()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
        yield poll


def pause(seconds: float) -> Steps:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        yield min(0.05, max(0.0, end - time.monotonic()))


# --- set-up --------------------------------------------------------------------------------


def artifacts_dir(test_name: str) -> Path:
    """``AVATAR_IMPORTER_ARTIFACTS`` (set by run_gui_tests.sh) or artifacts/gui/<test>/."""
    env = os.environ.get("AVATAR_IMPORTER_ARTIFACTS")
    path = Path(env) if env else REPO / "artifacts" / "gui" / test_name
    path.mkdir(parents=True, exist_ok=True)
    (path / "failure.png").unlink(missing_ok=True)  # from an earlier failed run
    return path


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def enable_addon(cache_dir: Path, compute_seconds: float = 2.0) -> Any:
    """Enable the add-on as a legacy add-on (package on sys.path), sandbox service.

    Returns the add-on's ``runtime`` module."""
    os.environ["AVATAR_IMPORTER_CACHE"] = str(cache_dir)
    mod = addon_utils.enable(ADDON, default_set=True, handle_error=_raise)
    check(mod is not None, "addon_utils.enable returned None")
    loaded_default, loaded_state = addon_utils.check(ADDON)
    check(loaded_default and loaded_state, f"add-on not enabled: {(loaded_default, loaded_state)}")
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = compute_seconds
    from avatar_importer.blender import runtime
    check(runtime.cache_root(prefs) == cache_dir,
          f"cache root {runtime.cache_root(prefs)} is not {cache_dir}")
    log(f"add-on enabled from {Path(mod.__file__).parent}; cache {cache_dir}")
    return runtime


def _raise(exc: BaseException) -> None:
    raise exc


def disable_addon_and_check(runtime: Any) -> None:
    """Disable the add-on; assert it left no timer and no worker thread behind."""
    addon_utils.disable(ADDON, default_set=True, handle_error=_raise)
    check(ADDON not in bpy.context.preferences.addons, "add-on still in preferences.addons")
    check(not bpy.app.timers.is_registered(runtime.pump_tick),
          "the pump timer is still registered after disable")
    check(not hasattr(bpy.types.Scene, "avatar_importer"),
          "Scene.avatar_importer still registered after disable")
    check(not hasattr(bpy.types, "VIEW3D_PT_avatar_importer"),
          "the panel class is still registered after disable")
    check(runtime._State.sandbox is None and not runtime._State.engines,
          "engines or the sandbox outlived disable")
    left = [t.name for t in threading.enumerate() if t.name.startswith(WORKER_THREAD_PREFIXES)]
    check(not left, f"worker threads left after disable: {left}")
    sandbox = [t.name for t in threading.enumerate() if t.name.startswith("sandbox-")]
    check(not sandbox, f"sandbox listener threads left after disable: {sandbox}")
    log("add-on disabled: no timer, no worker or sandbox thread left")


def write_photo(folder: Path, stem: str, seed: str = "gui face") -> Path:
    from avatar_importer.sandbox.assets import build_thumbnail
    path = folder / f"{stem}.png"
    path.write_bytes(build_thumbnail(seed, 128))
    return path


# --- the window -------------------------------------------------------------------------------


class View3D:
    """The main window's 3D viewport: its area, space, sidebar (UI) and main region."""

    def __init__(self) -> None:
        window = bpy.context.window_manager.windows[0]
        areas = [a for a in window.screen.areas if a.type == "VIEW_3D"]
        check(areas, "no 3D viewport in the window")
        self.window = window
        self.area = max(areas, key=lambda a: a.width * a.height)
        self.space = self.area.spaces.active

    def region(self, kind: str) -> Any:
        for region in self.area.regions:
            if region.type == kind:
                return region
        raise Failure(f"the 3D viewport has no {kind} region")

    @property
    def sidebar(self) -> Any:
        return self.region("UI")

    @property
    def main(self) -> Any:
        return self.region("WINDOW")

    def override(self, region_kind: str = "UI") -> Any:
        return bpy.context.temp_override(window=self.window, screen=self.window.screen,
                                         area=self.area, region=self.region(region_kind))

    def redraw(self) -> None:
        self.area.tag_redraw()
        for region in self.area.regions:
            region.tag_redraw()

    def screenshot(self, path: Path) -> Steps:
        """Redraw, let the window draw, then save the whole window as PNG ``path``."""
        self.redraw()
        yield from pause(0.4)
        path.parent.mkdir(parents=True, exist_ok=True)
        with bpy.context.temp_override(window=self.window, screen=self.window.screen,
                                       area=self.area):
            result = bpy.ops.screen.screenshot(filepath=str(path))
        check(result == {"FINISHED"}, f"screenshot returned {result}")
        check(path.is_file() and path.stat().st_size > 10_000,
              f"screenshot {path} missing or tiny")
        log(f"screenshot saved: {path} ({path.stat().st_size} bytes)")


class DrawCounter:
    """Counts calls of a registered panel's ``draw``. Blender looks ``draw`` up on the
    Python class each time it draws, so wrapping the class attribute sees every draw."""

    def __init__(self, panel_cls: type) -> None:
        self.panel_cls = panel_cls
        self.calls = 0
        self.original = panel_cls.__dict__["draw"]
        original = self.original

        def draw(panel: Any, context: Any) -> None:
            self.calls += 1
            original(panel, context)

        panel_cls.draw = draw

    def restore(self) -> None:
        self.panel_cls.draw = self.original


def xdotool(*args: str) -> str:
    proc = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=10)
    check(proc.returncode == 0, f"xdotool {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def blender_x_window() -> str:
    """The X window id of Blender's main window."""
    out = xdotool("search", "--onlyvisible", "--name", "Blender")
    ids = out.split()
    check(ids, "xdotool found no Blender window")
    return ids[0]


def pointer_to(view: View3D, x: int, y_up: int, xid: str) -> tuple[int, int]:
    """Move the X pointer to window point (x, y_up): Blender's y is bottom-up (region
    coordinates are relative to the window), X's is top-down."""
    y = view.window.height - y_up
    xdotool("mousemove", "--window", xid, str(x), str(y))
    return x, y


def sidebar_tab_strip_point(view: View3D) -> tuple[int, int]:
    """A window point (x, y bottom-up) on the sidebar's vertical tab strip: the strip runs
    along the region's right edge, about 20 px (times the UI scale) wide."""
    region = view.sidebar
    scale = bpy.context.preferences.system.ui_scale
    return region.x + region.width - max(4, int(9 * scale)), region.y + region.height // 2


def show_sidebar_tab(view: View3D, panel_cls: type, max_steps: int = 12) -> Steps:
    """Make ``panel_cls``'s sidebar tab the visible one, as a person does (Blender 3.4 has
    no Python API for the active tab): open the sidebar, point at its tab strip with
    xdotool and turn the mouse wheel, one notch at a time, until the panel's ``draw`` is
    called on a redraw. Wheel down first, then up, ``max_steps`` notches each.

    Ctrl+wheel over the panels themselves (the other way Blender offers) did not switch
    tabs in Debian's 3.4 under Xvfb, although Blender received the events with Ctrl held;
    a plain wheel over the tab strip does, every time."""
    xid = blender_x_window()
    # Blender shows its splash screen when started without a file (run_gui_tests.sh
    # passes one): Escape closes it, and does nothing over the bare viewport otherwise.
    pointer_to(view, view.main.x + view.main.width // 2, view.main.y + view.main.height // 2,
               xid)
    yield from pause(0.1)
    xdotool("key", "Escape")
    view.space.show_region_ui = True
    yield from pause(0.5)  # the sidebar gets its size on the next redraw
    check(view.sidebar.width > 50, f"sidebar did not open (width {view.sidebar.width})")
    counter = DrawCounter(panel_cls)
    try:
        def redraw_and_count() -> Steps:
            counter.calls = 0
            view.redraw()
            yield from pause(0.3)

        yield from redraw_and_count()
        if counter.calls:
            log(f"tab {panel_cls.bl_category!r} already shown")
            return
        for button, label in (("5", "down"), ("4", "up")):
            for step in range(1, max_steps + 1):
                x, y = pointer_to(view, *sidebar_tab_strip_point(view), xid)
                yield from pause(0.1)  # let Blender see the pointer enter the region
                xdotool("click", button)
                yield from redraw_and_count()
                if counter.calls:
                    log(f"tab {panel_cls.bl_category!r} shown after {step} wheel {label} "
                        f"notch(es) over the tab strip at ({x}, {y})")
                    return
        raise Failure(f"the mouse wheel over the sidebar's tabs never showed tab "
                      f"{panel_cls.bl_category!r}")
    finally:
        counter.restore()


def on_failure(view: View3D, runtime: Any, art: Path) -> None:
    """Best effort after a failure: show the jobs, screenshot the window, disable."""
    for job in runtime.all_jobs():
        log(f"job {job.id}: {job.stage.value}: {job.status_line()}")
    with bpy.context.temp_override(window=view.window, screen=view.window.screen,
                                   area=view.area):
        bpy.ops.screen.screenshot(filepath=str(art / "failure.png"))
    log(f"failure screenshot: {art / 'failure.png'}")
    addon_utils.disable(ADDON, default_set=True)


# --- measurements ----------------------------------------------------------------------------


def tick_summary(ticks: Iterator[tuple[float, str]] | list[tuple[float, str]]) -> dict[str, Any]:
    ticks = list(ticks)
    events = sorted(s for s, kind in ticks if kind == "events")
    imports = [s for s, kind in ticks if kind == "import"]
    return {
        "event_ticks": len(events),
        "event_max_ms": 1000 * max(events) if events else 0.0,
        "event_median_ms": 1000 * statistics.median(events) if events else 0.0,
        "event_p95_ms": 1000 * events[int(0.95 * (len(events) - 1))] if events else 0.0,
        "import_ticks": len(imports),
        "import_max_s": max(imports) if imports else 0.0,
    }


DATA_KINDS = ("objects", "collections", "meshes", "materials", "images", "armatures",
              "actions", "textures", "node_groups", "shape_keys")


def data_counts() -> dict[str, int]:
    return {kind: len(getattr(bpy.data, kind)) for kind in DATA_KINDS}


def files_matching(root: Path, *patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in root.rglob(pattern))
