"""What the panel tests do as a user would: press Create and let the add-on's timer run
(the wheels have no event loop, so ``runtime.pump_tick`` is called as the timer would)."""

from __future__ import annotations

import time

import bpy


def pump(runtime, done, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    assert done(), [j.status_line() for j in runtime.all_jobs()]


def create(runtime, name: str) -> object:
    """The panel's Create with ``name``, pumped until the job ends; it must be done."""
    bpy.context.scene.avatar_importer.avatar_name = name
    bpy.ops.avatar_importer.create()
    job = [j for j in runtime.all_jobs() if j.spec.name == name][-1]
    pump(runtime, lambda: job.stage.final)
    assert job.stage.value == "done", job.error
    return job
