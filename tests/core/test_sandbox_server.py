"""The loopback sandbox behaves like the Avatar SDK web API, faults included (real sockets)."""

from __future__ import annotations

import http.client
import io
import json
import posixpath
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from avatar_importer.sandbox.assets import build_thumbnail, parse_glb
from avatar_importer.sandbox.server import Sandbox, SandboxConfig, main

SAMPLES = Path("/work/shared/samples/metaperson")
PHOTO = build_thumbnail("photo", 32)  # a real PNG
EXPORT_PARAMETERS = {
    "format": "glb", "lod": "LOD1", "embed": True,
    "textures": {"list": ["Color", "Normal", "GltfMetallicRoughness"], "embed": True,
                 "profile": "1K.png"},
    "avatar": {"list": ["AvatarBody", "AvatarHead", "AvatarEyelashes"]},
    "blendshapes": {"list": ["face_modifications", "body_shape", "mobile_51"]},
    "haircuts": {"list": ["HaircutGenerated"]},
    "outfits": {"list": ["LORI"]},
}


def fast_config(**overrides: Any) -> SandboxConfig:
    return SandboxConfig(compute_seconds=0.3, export_seconds=0.1, **overrides)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(fast_config()) as sandbox:
        yield sandbox


class Client:
    """A minimal client of the seed's flow."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.base = sandbox.base_url
        self.token = self.new_token()
        self.player = self.new_player()

    def new_token(self) -> str:
        r = requests.post(self.base + "o/token/", auth=(self.sb.config.client_id,
                          self.sb.config.client_secret),
                          files={"grant_type": (None, "client_credentials")}, timeout=5)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def headers(self, player: bool = True) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"}
        if player:
            h["X-PlayerUID"] = self.player
        return h

    def new_player(self) -> str:
        r = requests.post(self.base + "players/", headers=self.headers(False),
                          files={"comment": (None, "pytest")}, timeout=5)
        assert r.status_code == 201, r.text
        return str(r.json()["code"])

    def get(self, path_or_url: str, **kw: Any) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        kw.setdefault("headers", self.headers())
        return requests.get(url, timeout=10, **kw)

    def create(self, photo: bytes = PHOTO, export_parameters: Any = EXPORT_PARAMETERS,
               **fields: str) -> requests.Response:
        form = {"name": "pytest avatar", "pipeline": "metaperson_2.0",
                "pipeline_subtype": "female",
                "parameters": json.dumps({"avatar_modifications": {"remove_smile": True}}),
                "export_parameters": json.dumps(export_parameters), **fields}
        files: dict[str, Any] = {k: (None, v) for k, v in form.items()}
        if photo:
            files["photo"] = ("photo.png", photo, "image/png")
        return requests.post(self.base + "avatars/", headers=self.headers(), files=files,
                             timeout=10)

    def wait(self, code: str, limit: float = 5.0) -> list[dict[str, Any]]:
        seen = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            doc = self.get(f"avatars/{code}/").json()
            seen.append(doc)
            if doc["status"] in ("Completed", "Failed", "Timed Out"):
                return seen
            time.sleep(0.02)
        raise AssertionError(f"avatar still {seen[-1]['status']}")

    def wait_exports(self, code: str, limit: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            exports = self.get(f"avatars/{code}/exports/").json()
            if all(e["status"] in ("Completed", "Failed") for e in exports):
                return list(exports)
            time.sleep(0.02)
        raise AssertionError("exports did not finish")

    def completed_export(self) -> dict[str, Any]:
        code = self.create().json()["code"]
        self.wait(code)
        return self.wait_exports(code)[0]


def test_seed_flow_end_to_end(sb: Sandbox) -> None:
    c = Client(sb)
    params = c.get("parameters/available/metaperson_2.0/?pipeline_subtype=female").json()
    assert params["female"]["avatar_modifications"] == ["remove_smile", "remove_glasses",
                                                        "remove_stubble"]
    available = c.get("export_parameters/available/metaperson_2.0/?pipeline_subtype=female")
    catalogue = available.json()
    assert "LORI" in catalogue["outfits"]["list"]
    assert "HaircutGenerated" in catalogue["haircuts"]["list"]
    assert catalogue["blendshapes"]["list"] == ["body_shape", "face_modifications", "mobile_51",
                                                "visemes_14", "visemes_15"]
    male = c.get("export_parameters/available/metaperson_2.0/?pipeline_subtype=male").json()
    assert set(male) == set(catalogue)

    created = c.create()
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"code", "created_on", "description", "progress", "status", "url"}
    assert (body["status"], body["progress"]) == ("Uploading", 0)
    assert body["url"] == f"{sb.base_url}avatars/{body['code']}/"

    seen = c.wait(body["code"])
    statuses = [d["status"] for d in seen]
    progress = [d["progress"] for d in seen]
    assert statuses[-1] == "Completed" and progress[-1] == 100
    assert "Computing" in statuses
    assert progress == sorted(progress)
    assert any(0 < p < 100 for p, s in zip(progress, statuses, strict=True) if s == "Computing")
    final = seen[-1]
    assert (final["pipeline"], final["pipeline_subtype"]) == ("metaperson_2.0", "female")
    assert final["thumbnail"] == f"{sb.base_url}avatars/{body['code']}/thumbnail/"

    exports = c.wait_exports(body["code"])
    assert len(exports) == 1
    export = exports[0]
    assert set(export) == {"avatar_code", "code", "created_on", "files", "status", "url"}
    (entry,) = export["files"]
    assert entry["identity"] == "avatar" and entry["category"] is None
    assert entry["file"] == f"{export['url']}files/avatar/file/"
    static_urls = entry["static_files"]
    assert static_urls == sorted(static_urls)
    assert all(u.startswith(sb.static_base_url + "static_resources/metaperson_2.0/textures/")
               for u in static_urls)
    assert c.get(export["url"]).json() == export

    archive = c.get(entry["file"])
    assert archive.status_code == 200
    assert archive.headers["Content-Type"] == "application/zip"
    assert int(archive.headers["Content-Length"]) == len(archive.content)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        glb = zf.read("avatar/model.glb")
    doc, _ = parse_glb(glb)
    names = {n["name"] for n in doc["nodes"]}
    assert {"AvatarRoot", "Hips", "AvatarHead", "haircut", "outfit"} <= names
    head = next(m for m in doc["meshes"] if m["name"] == "AvatarHead")
    assert len(head["extras"]["targetNames"]) == 51  # mobile_51 only was asked
    uris = {img["uri"] for img in doc["images"]}
    assert uris == {posixpath.basename(urlsplit(u).path) for u in static_urls}

    for url in static_urls:  # no token for static resources
        r = requests.get(url, timeout=5)
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        assert r.headers["Content-Type"] == "image/png"
    thumb = c.get(final["thumbnail"])
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    assert all(not r.had_authorization for r in sb.requests_to("/static_resources/"))


def test_token_errors_and_form_credentials(sb: Sandbox) -> None:
    url = sb.base_url + "o/token/"
    r = requests.post(url, auth=("sandbox", "wrong"), data={"grant_type": "client_credentials"},
                      timeout=5)
    assert r.status_code == 401 and r.json()["detail"]
    r = requests.post(url, data={"grant_type": "client_credentials", "client_id": "sandbox",
                                 "client_secret": "sandbox"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["token_type"] == "Bearer" and r.json()["scope"] == "read write"
    assert r.json()["expires_in"] == 36000
    r = requests.post(url, auth=("sandbox", "sandbox"), data={"grant_type": "password"},
                      timeout=5)
    assert r.status_code == 400
    r = requests.post(sb.base_url + "players/", timeout=5)
    assert r.status_code == 401 and "detail" in r.json()
    r = requests.post(sb.base_url + "players/", headers={"Authorization": "Bearer nope"},
                      timeout=5)
    assert r.status_code == 401


def test_expired_token_ttl() -> None:
    with Sandbox(fast_config(token_ttl=0.2)) as sandbox:
        c = Client(sandbox)
        assert c.get("avatars/").status_code == 200
        time.sleep(0.3)
        assert c.get("avatars/").status_code == 401


def test_player_rules(sb: Sandbox) -> None:
    c = Client(sb)
    r = requests.post(sb.base_url + "avatars/", headers=c.headers(False),
                      files={"photo": ("p.png", PHOTO)}, timeout=5)
    assert r.status_code == 403 and r.json()["detail"]
    r = requests.get(sb.base_url + "avatars/", headers={**c.headers(), "X-PlayerUID": "x" * 36},
                     timeout=5)
    assert r.status_code == 403
    code = c.create().json()["code"]
    other = Client(sb)
    assert other.get(f"avatars/{code}/").status_code == 404
    assert other.get("avatars/").json() == []


def test_creation_validation(sb: Sandbox) -> None:
    c = Client(sb)
    r = c.create(photo=b"GIF89a not a photo")
    assert r.status_code == 400 and "JPEG or PNG" in r.json()["detail"]
    r = c.create(photo=b"")
    assert r.status_code == 400 and "photo" in r.json()["detail"]
    r = c.create(parameters="{not json")
    assert r.status_code == 400 and "parameters" in r.json()["detail"]
    r = c.create(export_parameters={"format": "fbx"})
    assert r.status_code == 400 and "glb" in r.json()["detail"]
    r = c.create(export_parameters={"textures": {"profile": "8K.tga"}})
    assert r.status_code == 400
    r = c.create(pipeline="animated_face")
    assert r.status_code == 400 and "pipeline" in r.json()["detail"]
    r = c.create(pipeline_subtype="robot")
    assert r.status_code == 400
    jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 100
    r = c.create(photo=jpeg, export_parameters=[EXPORT_PARAMETERS, {"format": "glb"}])
    assert r.status_code == 201
    code = r.json()["code"]
    assert len(c.get(f"avatars/{code}/exports/").json()) == 2
    assert c.get("parameters/available/other_pipeline/").status_code in (400, 404)
    assert c.get("avatars").status_code == 404  # every path ends in /
    assert requests.put(sb.base_url + "avatars/", headers=c.headers(),
                        timeout=5).status_code == 405


def test_exports_wait_for_the_avatar_and_new_exports(sb: Sandbox) -> None:
    c = Client(sb)
    code = c.create().json()["code"]
    (export,) = c.get(f"avatars/{code}/exports/").json()
    assert export["status"] == "Pending" and export["files"] == []
    early = c.get(f"avatars/{code}/exports/{export['code']}/files/avatar/file/")
    assert early.status_code == 404 and "not ready" in early.json()["detail"]
    c.wait(code)
    c.wait_exports(code)
    params = {**EXPORT_PARAMETERS, "haircuts": {"list": []}, "outfits": {"list": ["ARPI"]},
              "blendshapes": {"list": ["visemes_15"]}}
    r = requests.post(f"{sb.base_url}avatars/{code}/exports/", headers=c.headers(),
                      files={"export_parameters": (None, json.dumps(params))}, timeout=5)
    assert r.status_code == 201 and r.json()["status"] == "Queued"
    new = c.wait_exports(code)[-1]
    assert new["code"] == r.json()["code"] and new["status"] == "Completed"
    url = new["files"][0]["file"] + f"?access_token={c.token}"
    archive = requests.get(url, timeout=5)  # token in the query, no headers at all
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        doc, _ = parse_glb(zf.read("avatar/model.glb"))
    names = {n["name"] for n in doc["nodes"]}
    assert "haircut" not in names and "outfit" in names
    assert any("/outfits/ARPI/" in u for u in new["files"][0]["static_files"])


def test_patch_and_delete(sb: Sandbox) -> None:
    c = Client(sb)
    code = c.create().json()["code"]
    r = requests.patch(f"{sb.base_url}avatars/{code}/", headers=c.headers(),
                       data={"name": "renamed", "description": "hello"}, timeout=5)
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    assert c.get(f"avatars/{code}/").json()["description"] == "hello"
    r = requests.delete(f"{sb.base_url}avatars/{code}/", headers=c.headers(), timeout=5)
    assert r.status_code == 204 and r.content == b""
    assert c.get(f"avatars/{code}/").status_code == 404


def test_range_requests(sb: Sandbox) -> None:
    c = Client(sb)
    files = c.completed_export()["files"][0]
    url = files["file"]
    full = c.get(url).content
    part = c.get(url, headers={**c.headers(), "Range": "bytes=100-"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
    assert part.content == full[100:]
    assert c.get(url, headers={**c.headers(), "Range": "bytes=0-9"}).content == full[:10]
    bad = c.get(url, headers={**c.headers(), "Range": f"bytes={len(full)}-"})
    assert bad.status_code == 416
    static = files["static_files"][0]
    tail = requests.get(static, headers={"Range": "bytes=8-"}, timeout=5)
    assert tail.status_code == 206 and not tail.content.startswith(b"\x89PNG")


def test_pagination_with_link_header() -> None:
    with Sandbox(fast_config(page_size=2)) as sandbox:
        c = Client(sandbox)
        codes = [c.create(name=f"a{i}").json()["code"] for i in range(3)]
        first = c.get("avatars/")
        assert [a["code"] for a in first.json()] == codes[::-1][:2]  # newest first
        assert set(first.links) == {"next", "last"}
        second = c.get(first.links["next"]["url"])
        assert [a["code"] for a in second.json()] == codes[:1]
        assert set(second.links) == {"first", "prev"}
        assert c.get("avatars/?page=3").status_code == 404
    with Sandbox(fast_config()) as sandbox:
        c = Client(sandbox)
        c.create()
        assert "Link" not in c.get("avatars/").headers


def test_throttling_fault(sb: Sandbox) -> None:
    c = Client(sb)
    sb.faults.update({"throttle_next": 2, "retry_after": 1.5})
    for _ in range(2):
        r = c.get("avatars/")
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        assert r.json()["detail"]
    assert c.get("avatars/").status_code == 200
    sb.faults.update({"throttle_next": 1, "retry_after": None})
    r = c.get("avatars/")
    assert r.status_code == 429 and "Retry-After" not in r.headers


def test_error_burst_limited_to_a_path_prefix(sb: Sandbox) -> None:
    c = Client(sb)
    r = requests.post(sb.base_url + "_sandbox/faults/",
                      json={"error_next": 2, "error_status": 503,
                            "error_path_prefix": "/avatars/"}, timeout=5)
    assert r.status_code == 200 and r.json()["error_next"] == 2
    assert c.new_player()  # /players/ is not hit
    assert [c.get("avatars/").status_code for _ in range(3)] == [503, 503, 200]
    assert sb.faults.error_next == 0
    bad = requests.post(sb.base_url + "_sandbox/faults/", json={"no_such_switch": 1}, timeout=5)
    assert bad.status_code == 400
    state = requests.get(sb.base_url + "_sandbox/state/", timeout=5).json()
    assert state["faults"]["error_status"] == 503 and state["players"] == 2


def test_expire_tokens(sb: Sandbox) -> None:
    c = Client(sb)
    assert c.get("avatars/").status_code == 200
    sb.faults.expire_tokens()
    r = c.get("avatars/")
    assert r.status_code == 401 and r.json()["detail"]
    c.token = c.new_token()
    assert c.get("avatars/").status_code == 200
    requests.post(sb.base_url + "_sandbox/faults/", json={"expire_tokens": True}, timeout=5)
    assert c.get("avatars/").status_code == 401


@pytest.mark.parametrize("outcome", ["Failed", "Timed Out"])
def test_failed_avatars(sb: Sandbox, outcome: str) -> None:
    c = Client(sb)
    sb.faults.update({"fail_next_avatars": 1, "fail_status": outcome})
    failed = c.create().json()["code"]
    fine = c.create().json()["code"]
    assert c.wait(failed)[-1]["status"] == outcome
    assert sb.avatar_status(failed) == outcome
    assert c.wait(fine)[-1]["status"] == "Completed"
    assert [e["status"] for e in c.get(f"avatars/{failed}/exports/").json()] == ["Failed"]


def test_export_stuck(sb: Sandbox) -> None:
    c = Client(sb)
    sb.faults.export_stuck = True
    code = c.create().json()["code"]
    c.wait(code)
    time.sleep(0.3)
    (export,) = c.get(f"avatars/{code}/exports/").json()
    assert export["status"] == "Computing"
    sb.faults.export_stuck = False
    assert c.wait_exports(code)[0]["status"] == "Completed"


def _raw_get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Declared Content-Length and the bytes that actually arrived."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", parts.path, headers=headers)
        resp = conn.getresponse()
        declared = int(resp.getheader("Content-Length") or -1)
        try:
            body = resp.read()
        except http.client.IncompleteRead as err:
            body = err.partial
        return declared, body
    finally:
        conn.close()


def test_truncated_and_reset_downloads() -> None:
    with Sandbox(fast_config(extra_archive_bytes=200_000)) as sandbox:
        c = Client(sandbox)
        url = c.completed_export()["files"][0]["file"]
        sandbox.faults.update({"truncate_next_downloads": 1, "truncate_at_bytes": 5000})
        declared, body = _raw_get(url, c.headers())
        assert declared > 200_000 and len(body) == 5000
        declared2, body2 = _raw_get(url, c.headers())
        assert len(body2) == declared2 == declared  # the counter ran out
        sandbox.faults.update({"reset_next_downloads": 1})
        with pytest.raises(requests.exceptions.RequestException):
            c.get(url).raise_for_status()
        assert len(c.get(url).content) == declared


def test_slow_downloads_and_latency(sb: Sandbox) -> None:
    c = Client(sb)
    static = c.completed_export()["files"][0]["static_files"][0]
    size = len(requests.get(static, timeout=5).content)
    sb.faults.update({"download_bytes_per_second": size * 4.0,
                      "download_path_prefix": "/static_resources/"})
    start = time.monotonic()
    assert len(requests.get(static, timeout=5).content) == size
    assert time.monotonic() - start >= 0.2
    sb.faults.update({"download_bytes_per_second": None, "latency_seconds": 0.2})
    start = time.monotonic()
    assert c.get("avatars/").status_code == 200
    assert time.monotonic() - start >= 0.2


def test_separate_static_host_logs_authorization() -> None:
    with Sandbox(fast_config(separate_static_host=True)) as sandbox:
        assert sandbox.static_base_url != sandbox.base_url
        c = Client(sandbox)
        urls = c.completed_export()["files"][0]["static_files"]
        assert all(u.startswith(sandbox.static_base_url) for u in urls)
        assert requests.get(urls[0], timeout=5).status_code == 200
        assert requests.get(urls[1], headers=c.headers(), timeout=5).status_code == 200
        log = sandbox.requests_to("/static_resources/")
        assert [(r.listener, r.had_authorization, r.status) for r in log] == [
            ("static", False, 200), ("static", True, 200)]
        assert urlsplit(urls[0]).port == int(log[0].host.rsplit(":", 1)[1])
        assert requests.get(sandbox.static_base_url + "avatars/", headers=c.headers(),
                            timeout=5).status_code == 404
        missing = requests.get(sandbox.static_base_url + "static_resources/nope.png", timeout=5)
        assert missing.status_code == 404


@pytest.mark.skipif(not (SAMPLES / "outfit_ARPI_lod2_external_textures.glb").exists(),
                    reason="shared MetaPerson samples not available")
def test_model_glb_is_served_with_its_textures() -> None:
    model = SAMPLES / "outfit_ARPI_lod2_external_textures.glb"
    with Sandbox(fast_config(model_glb=model)) as sandbox:
        c = Client(sandbox)
        export = c.completed_export()
        with zipfile.ZipFile(io.BytesIO(c.get(export["files"][0]["file"]).content)) as zf:
            assert zf.read("avatar/model.glb") == model.read_bytes()
        urls = export["files"][0]["static_files"]
        assert len(urls) == 5
        assert any(u.endswith("/textures/custom/ARPI_Color_1K.jpg") for u in urls)
        assert all(requests.get(u, timeout=5).status_code == 200 for u in urls)


def test_refuses_non_loopback_hosts() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValueError):
            Sandbox(host=host)
    assert Sandbox(host="localhost").host == "127.0.0.1"
    assert main(["--host", "10.1.2.3"]) == 2


def test_command_line_starts_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    def probe() -> None:
        out = capsys.readouterr().out
        base = out.split("sandbox at ", 1)[1].split()[0]
        r = requests.post(base + "o/token/", auth=("id", "secret"),
                          data={"grant_type": "client_credentials"}, timeout=5)
        assert r.status_code == 200

    assert main(["--port", "0", "--quiet", "--client-id", "id", "--client-secret", "secret"],
                wait=probe) == 0
