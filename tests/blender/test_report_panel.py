"""The panel's report after an import fits the sidebar's default width, and the whole
report is one click away (a popup, and a text block for the Text Editor). Real Blender,
real import from the sandbox through the add-on's own job flow."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import addon_utils
import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402

SECRET = "report-secret-3141"  # must never reach a report or a text block
#: text pixels a label with an icon shows uncut in the job's box at the sidebar's default
#: width (Blender 3.4 under Xvfb: 126 px of text fitted, 145 px was cut)
SIDEBAR_TEXT_PX = 124


def text_px(text: str) -> float:
    """Width of ``text`` in Blender's UI font at the label size (UI scale 1)."""
    import blf
    style = bpy.context.preferences.ui_styles[0]
    label = getattr(style, "widget_label", None) or style.widget
    blf.size(0, label.points)
    return float(blf.dimensions(0, text)[0])


def run_job(photo: Path, name: str) -> Any:
    from avatar_importer.blender import runtime
    opts = bpy.context.scene.avatar_importer
    opts.photo, opts.avatar_name = str(photo), name
    bpy.ops.avatar_importer.create()
    job = runtime.all_jobs()[-1]
    deadline = time.monotonic() + 60
    while not job.stage.final and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    return job


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.3
    prefs.client_secret = SECRET
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    job = run_job(photo, "Ada Lovelace-Byron")
    assert job.stage.value == "done", job.status_line()
    yield job
    prefs.client_secret = ""
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


class Recorder:
    """Stands in for the panel's UILayout: records what ``draw`` puts in it."""

    def __init__(self, log: list[tuple[str, str, str]]) -> None:
        self.log = log

    def label(self, text: str = "", icon: str = "NONE", **_: Any) -> None:
        self.log.append(("label", text, icon))

    def operator(self, idname: str, text: str = "", icon: str = "NONE", **_: Any) -> Any:
        self.log.append(("operator", idname, icon))
        return type("Props", (), {})()

    def _child(self, *_: Any, **__: Any) -> Recorder:
        return Recorder(self.log)

    box = row = column = split = _child

    def __getattr__(self, name: str) -> Any:  # prop, template_icon, separator ...
        return lambda *args, **kwargs: None


def drawn(context: Any) -> list[tuple[str, str, str]]:
    from avatar_importer.blender.ui.panel import VIEW3D_PT_avatar_importer
    log: list[tuple[str, str, str]] = []
    VIEW3D_PT_avatar_importer.draw(type("P", (), {"layout": Recorder(log)})(), context)
    return log


def test_summary_fits_the_sidebar_and_the_full_report_is_one_click_away(
        job: Any, fault: Any) -> None:
    row = fault.row("M06", "panel after an import, sidebar at its default width",
                    f"every summary row <= {SIDEBAR_TEXT_PX} px of text; Full Report popup "
                    "and text block hold every line; no secret in the text")
    from avatar_importer.core.report_summary import full_report_lines
    name = job.result.collection_name
    log = drawn(bpy.context)
    start = next(i for i, entry in enumerate(log) if entry[1] == job.status_line())
    rows = [(text, icon) for kind, text, icon in log[start + 1:] if kind == "label"]
    texts = [text for text, _icon in rows]
    row.saw("rows " + "; ".join(f"{t} ({text_px(t):.0f} px)" for t in texts))
    assert texts, log
    too_wide = [(t, text_px(t)) for t in texts if text_px(t) > SIDEBAR_TEXT_PX]
    assert not too_wide, too_wide
    assert not any(t.endswith("…") for t in texts), texts
    assert text_px("Hair: transparent bounces 64") > SIDEBAR_TEXT_PX  # the check can fail
    assert "19/19 images" in texts and "11/11 materials fixed" in texts
    assert ("Transp. bounces: 64", "STRANDS") in rows
    icons = bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys()
    assert all(icon in icons for _t, icon in rows), rows
    buttons = [e[1] for e in log if e[0] == "operator"]
    assert {"avatar_importer.show_report", "avatar_importer.report_to_text"} <= set(buttons)

    # the popup's operator runs and the text block holds the whole report, nothing cut
    assert bpy.ops.avatar_importer.show_report(collection=name) == {"FINISHED"}
    assert bpy.ops.avatar_importer.report_to_text(collection=name) == {"FINISHED"}
    text = bpy.data.texts[f"Avatar report {name}"].as_string()
    from avatar_importer.blender.importing.importer import stored_report
    expected = full_report_lines(stored_report(bpy.data.collections[name]))
    assert text.splitlines() == expected
    for mat in job.result.materials:  # every adjusted material, with every change
        if mat["changes"]:
            assert any(mat["name"] in ln and all(c in ln for c in mat["changes"])
                       for ln in expected), mat
    assert any("transparent bounces raised" in ln for ln in expected)
    assert max(text_px(ln) for ln in expected) > 3 * SIDEBAR_TEXT_PX  # the long form
    assert SECRET not in text and "Bearer" not in text

    # twice: the same text block, rewritten
    assert bpy.ops.avatar_importer.report_to_text(collection=name) == {"FINISHED"}
    assert len([t for t in bpy.data.texts if t.name.startswith("Avatar report")]) == 1


def test_report_of_a_removed_avatar_says_so(job: Any) -> None:
    with pytest.raises(RuntimeError, match="No import report for 'Gone'"):
        bpy.ops.avatar_importer.report_to_text(collection="Gone")
    with pytest.raises(RuntimeError, match="No import report"):
        bpy.ops.avatar_importer.show_report(collection="Gone")


def test_a_failed_jobs_message_is_wrapped_not_cut(job: Any, tmp_path: Path) -> None:
    from avatar_importer.blender import runtime
    sandbox = runtime._State.sandbox  # the service refuses: a permanent 403
    sandbox.faults.update({"error_next": 100, "error_status": 403,
                           "error_path_prefix": "/avatars/"})
    failed = run_job(Path(bpy.context.scene.avatar_importer.photo), "Broken")
    sandbox.faults.update({"reset": True})
    assert failed.stage.value == "failed"
    message = failed.status_line()
    log = drawn(bpy.context)
    start = next(i for i, e in enumerate(log) if e[0] == "label" and e[1] == "Broken")
    parts = []
    labels = [text for kind, text, _icon in log[start + 1:] if kind == "label"]
    for text in labels:
        if not message.startswith(" ".join([*parts, text])):
            break
        parts.append(text)
    assert " ".join(parts) == message, (parts, message)
    assert len(parts) > 1 and all(text_px(p) <= SIDEBAR_TEXT_PX + 16 for p in parts), parts
