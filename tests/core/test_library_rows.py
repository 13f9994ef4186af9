"""Row state in the library, row locks across processes, catalog file merges by two
concurrent writers, exit codes."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from avatar_importer.core import asset_catalogs
from avatar_importer.core.errors import exit_code_for, is_transient
from avatar_importer.core.library_rows import LibraryRows, failure_fields, plan_row
from avatar_importer.core.row_lock import holder_of, try_lock

ROOT = Path(__file__).resolve().parents[2]


def test_plan_row_decisions():
    assert plan_row({}, False).action == "create"
    assert plan_row({}, False, avatar_id="abc").avatar_code == "abc"
    assert plan_row({"status": "done", "avatar_code": "x"}, True).action == "skip"
    # done but the .blend vanished: import the recorded avatar again, no creation
    again = plan_row({"status": "done", "avatar_code": "x", "player": "p"}, False)
    assert (again.action, again.avatar_code, again.player) == ("import", "x", "p")
    # killed after creation: resume that avatar
    created = plan_row({"status": "created", "avatar_code": "x", "export_code": "e"}, False)
    assert (created.action, created.export_code) == ("import", "e")
    # transient failure with a code: resume it
    assert plan_row({"status": "failed", "avatar_code": "x", "error_kind": "network"},
                    False).action == "import"
    # the service said the avatar failed: a new one
    assert plan_row({"status": "failed", "avatar_code": "x", "error_kind": "remote_failed"},
                    False).action == "create"
    # another service / sandbox: the recorded code means nothing there
    assert plan_row({"status": "created", "avatar_code": "x", "base_url": "http://a/"},
                    False, base_url="http://b/").action == "create"


def test_state_is_merged_and_atomic(tmp_path):
    rows = LibraryRows(tmp_path)
    rows.update("Ada", status="creating", job_id="j1")
    rows.update("Ada", avatar_code="c1", status="created")
    state = rows.load("Ada")
    assert (state["job_id"], state["avatar_code"], state["status"]) == ("j1", "c1", "created")
    assert not rows.complete("Ada")
    rows.update("Ada", status="done")
    assert not rows.complete("Ada"), "done needs the .blend"
    rows.blend_path("Ada").write_bytes(b"BLENDER")
    assert rows.complete("Ada")
    assert list(rows.states()) == ["Ada"]
    assert not list((tmp_path / ".avatar_importer" / "rows").glob(".*"))  # no partials


def test_failure_fields_and_exit_codes():
    assert failure_fields("down", "server_error")["transient"] is True
    assert failure_fields("bad photo", "input")["transient"] is False
    assert is_transient("busy") and not is_transient("authentication")
    assert exit_code_for([]) == 0
    assert exit_code_for(["network", "throttled"]) == 75
    assert exit_code_for(["network", "input"]) == 1
    assert exit_code_for(["payment_required"]) == 1


def test_row_lock_excludes_another_process_and_dies_with_it(tmp_path):
    path = tmp_path / "locks" / "Ada.lock"
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]);"
            "from avatar_importer.core.row_lock import try_lock;"
            "lock = try_lock(__import__('pathlib').Path(sys.argv[2]));"
            "print('got' if lock else 'busy', flush=True); time.sleep(float(sys.argv[3]))")
    holder = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(path), "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "got"
        assert try_lock(path) is None, "another process holds the row"
        assert holder_of(path)["pid"] == holder.pid
        other = subprocess.run([sys.executable, "-c", code, str(ROOT), str(path), "0"],
                               capture_output=True, text=True, timeout=30)
        assert other.stdout.strip() == "busy"
    finally:
        holder.kill()
        holder.wait()
    lock = try_lock(path)  # the kernel released the killed holder's lock
    assert lock is not None
    assert try_lock(path) is None or sys.platform == "win32"
    lock.release()
    assert try_lock(path) is not None


def _writer(folder: str, prefix: str, n: int) -> None:
    for i in range(n):
        asset_catalogs.ensure_catalogs(Path(folder), [f"{prefix}/group{i % 3}/c{i}"])


def test_two_concurrent_writers_lose_no_catalog_and_keep_uuids(tmp_path):
    existing = str(uuid.uuid4())
    (tmp_path / asset_catalogs.CATALOG_FILE).write_text(
        asset_catalogs.HEADER + f"{existing}:Cast/Leads:Cast-Leads\n# a user's note\n")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), p, 25)) for p in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    text = (tmp_path / asset_catalogs.CATALOG_FILE).read_text()
    cats = asset_catalogs.parse(text)
    paths = [c.path for c in cats]
    assert len(paths) == len(set(paths)), "one catalog per path"
    expected = {"Cast", "Cast/Leads"} | {
        level for p in "AB" for i in range(25)
        for level in asset_catalogs.with_parents(f"{p}/group{i % 3}/c{i}")}
    assert expected - {"Cast"} <= set(paths)
    assert len(paths) == len(expected) - 1, "nothing else was written"
    by_path = {c.path: c for c in cats}
    assert by_path["Cast/Leads"].uuid == existing, "existing UUIDs are kept"
    assert "# a user's note" in text
    assert by_path["A/group1/c4"].simple_name == "A-group1-c4"
    assert text.startswith("# This is an Asset Catalog Definition file for Blender.")
    assert "\nVERSION 1\n" in text
    # a parent missing from the user's file is added once; asking again changes nothing
    asset_catalogs.ensure_catalogs(tmp_path, ["Cast/Leads"])
    before = (tmp_path / asset_catalogs.CATALOG_FILE).read_text()
    assert before.startswith(text) and before.count(":Cast:Cast\n") == 1
    again = asset_catalogs.ensure_catalogs(tmp_path, ["Cast/Leads", "A/group1/c4"])
    assert again == {"Cast/Leads": existing, "A/group1/c4": by_path["A/group1/c4"].uuid}
    assert (tmp_path / asset_catalogs.CATALOG_FILE).read_text() == before


def test_catalog_parse_tolerates_blender_variants():
    text = ("VERSION 1\n\n  b06132f6-5687-4751-a6dd-392740eb3c46  :  /a/b/ :  AB \n"
            "not-a-uuid:x:y\n"
            "b06132f6-5687-4751-a6dd-392740eb3c46:dup:dup\n")
    cats = asset_catalogs.parse(text)
    assert [(c.path, c.simple_name) for c in cats] == [("a/b", "AB")]
    with pytest.raises(Exception, match="VERSION 2"):
        asset_catalogs.parse("VERSION 2\n")
