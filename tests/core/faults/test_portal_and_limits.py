"""Fault matrix, a captive portal at sign-in and an endless shared texture (issue 11,
items 4 and 6): the message names the cause and nothing is left in the cache."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from avatar_importer.core.errors import ProtocolError
from avatar_importer.core.stages import Stage

from .helpers import client, engine, part_files, short, since, spec


def test_portal_page_at_sign_in_is_named(fault, sandbox, photo, cache):
    row = fault.row("R46", "a proxy / Wi-Fi sign-in page answers the sign-in (POST "
                    "/o/token/) with 200 and HTML",
                    "job failed [protocol] '<host>: an HTML page came instead of the "
                    "service's answer (a proxy or a Wi-Fi sign-in page in the way?)' (was: "
                    "'The token answer has no access_token'); 1 token request; no avatar")
    sandbox.faults.update({"html_next": 100, "error_path_prefix": "/o/token/"})
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    tokens = since(sandbox, 0, "/o/token/")
    host = urlsplit(sandbox.base_url).netloc
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error, 200)}; token requests "
            f"{len(tokens)}; avatars {len(sandbox._state.avatars)}")
    assert job.stage == Stage.FAILED and job.error_kind == "protocol"
    assert job.error == (f"{host}: an HTML page came instead of the service's answer (a "
                         "proxy or a Wi-Fi sign-in page in the way?)")
    assert len(tokens) == 1 and not sandbox._state.avatars


def test_portal_page_on_a_get_is_named_with_its_host(fault, sandbox):
    row = fault.row("R47", "a sign-in page (200 HTML) answering every GET for good",
                    "ProtocolError naming the host and the HTML page after the retries")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"html_next": 100, "error_path_prefix": "/parameters/"})
    with pytest.raises(ProtocolError) as err:
        c.available_parameters("female")
    out = err.value
    row.saw(f"{type(out).__name__}: {short(str(out))}")
    assert "an HTML page came instead of the service's answer" in str(out)
    assert urlsplit(sandbox.base_url).netloc in str(out)


def _static_job(sandbox, photo, cache, **opts):
    """One job; and the bytes its transport received in all."""
    eng = engine(sandbox, cache, **opts)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=60)
    finally:
        eng.shutdown()
    return job, eng.service.client.transport.bytes_received


def test_endless_texture_announced_8_gib_is_refused_before_reading(fault, sandbox, photo,
                                                                   cache):
    row = fault.row("R48", "a shared texture announced as 8 GiB (Content-Length) that never "
                    "ends", "job failed naming the texture file and 'announced as 8 GiB, "
                    "over the 256 MiB limit'; under 32 MiB received in all (the export "
                    "included); no file and no .part left "
                    "in the cache")
    sandbox.faults.update({"endless_next_downloads": 1,
                           "download_path_prefix": "/static_resources/"})
    job, received = _static_job(sandbox, photo, cache)
    statics = [p for p in (cache.root / "static").rglob("*") if p.is_file()] \
        if (cache.root / "static").exists() else []
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error, 220)}; received "
            f"{received / 2**20:.1f} MiB in all; static files kept {len(statics)}; .part "
            f"{len(part_files(cache.root))}")
    assert job.stage == Stage.FAILED
    assert job.error.startswith("Shared texture ") and "announced as 8 GiB" in job.error
    assert "256 MiB limit" in job.error and received < 32 * 2**20
    assert not part_files(cache.root)
    # the other textures may have arrived; the endless one is not among them
    name = job.error.split()[2]
    assert not [p for p in statics if p.name == name]


def test_endless_texture_without_length_is_cut_at_the_limit(fault, sandbox, photo, cache):
    row = fault.row("R49", "a shared texture with no Content-Length that never ends (limit "
                    "set to 2 MiB)", "reading stops just past 2 MiB; job failed naming the "
                    "file and 'went past the 2 MiB limit'; the partial file is deleted")
    sandbox.faults.update({"endless_next_downloads": 1, "endless_announce_bytes": None,
                           "download_path_prefix": "/static_resources/"})
    job, received = _static_job(sandbox, photo, cache, max_static_bytes=2 * 1024**2)
    name = job.error.split()[2] if job.error.startswith("Shared texture ") else "?"
    row.saw(f"{job.stage.value} {short(job.error, 220)}; received {received / 2**20:.1f} "
            f"MiB in all; .part {len(part_files(cache.root))}")
    assert job.stage == Stage.FAILED and "went past the 2 MiB limit" in job.error
    assert received < 3 * 2**20 + 2**20  # the limit, one piece, and the small export
    assert name != "?" and not part_files(cache.root)
    assert not list((cache.root / "static").rglob(name))
