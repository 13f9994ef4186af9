"""The curl tutorial's flow, call for call, against the sandbox over real sockets."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from conftest import make_client, settled_log

from avatar_importer.core.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InputError,
    NetworkError,
    ThrottledError,
)
from avatar_importer.core.params import default_export_parameters, default_parameters
from avatar_importer.core.transport import RetryPolicy, check_base_url


def test_seed_flow_call_for_call(sandbox, photo, tmp_path):
    client = make_client(sandbox)
    client.authenticate()
    player = client.create_player("tests")
    assert player
    params = client.available_parameters("female")
    assert "remove_smile" in params["female"]["avatar_modifications"]
    export_params = client.available_export_parameters("female")
    assert "HaircutGenerated" in export_params["haircuts"]["list"]

    avatar = client.create_avatar(photo, name="test", subtype="female",
                                  parameters=default_parameters(),
                                  export_parameters=default_export_parameters())
    assert avatar.status == "Uploading" and avatar.progress == 0
    seen = []
    while not avatar.done:
        time.sleep(0.05)
        avatar = client.get_avatar(avatar.code)
        seen.append((avatar.status, avatar.progress))
        assert not avatar.failed
    assert avatar.progress == 100

    exports = client.list_exports(avatar.code)
    deadline = time.monotonic() + 5
    while not exports[0].done and time.monotonic() < deadline:
        time.sleep(0.05)
        exports = client.list_exports(avatar.code)
    export = exports[0]
    main = export.main_file()
    assert main.identity == "avatar" and main.static_files
    archive = tmp_path / "model.zip"
    size = client.download(main.file, archive)
    assert size == archive.stat().st_size > 0
    assert "avatar/model.glb" in zipfile.ZipFile(archive).namelist()
    for url in main.static_files:
        dest = tmp_path / "static" / url.rsplit("/", 1)[-1]
        assert client.download(url, dest) > 0

    # every later call carried the player header, and the photo was uploaded as multipart
    avatar_calls = [r for r in settled_log(sandbox) if r.path.startswith("/avatars/")]
    assert avatar_calls and all(r.player == player for r in avatar_calls)


def test_player_is_reused_not_recreated(sandbox):
    client = make_client(sandbox)
    first = client.ensure_player()
    again = make_client(sandbox, player=first)
    assert again.ensure_player() == first
    assert len([r for r in settled_log(sandbox) if r.path == "/players/"]) == 1


def test_wrong_credentials_are_named(sandbox):
    client = make_client(sandbox, client_secret="wrong")
    with pytest.raises(AuthenticationError) as err:
        client.ensure_player()
    assert "client ID and secret" in str(err.value)
    assert "wrong" not in str(err.value)  # the secret never appears in messages


def test_missing_credentials_are_a_config_error(sandbox):
    with pytest.raises(ConfigError, match="credentials are missing"):
        make_client(sandbox, client_id="")


def test_rejected_request_carries_server_detail(sandbox, photo):
    client = make_client(sandbox)
    with pytest.raises(BadRequestError) as err:
        client.create_avatar(photo, name="x", subtype="female", pipeline="no_such_pipeline",
                             parameters={}, export_parameters={})
    assert err.value.status == 400 and err.value.detail
    assert err.value.detail in str(err.value)


@pytest.mark.parametrize("content,match", [
    (b"", "is empty"),
    (b"GIF89a....", "not a JPEG or PNG"),
])
def test_bad_photos_are_refused_before_upload(sandbox, tmp_path, content, match):
    client = make_client(sandbox)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=match):
        client.create_avatar(bad, name="x", subtype="female", parameters={},
                             export_parameters={})
    assert not [r for r in settled_log(sandbox) if r.method == "POST" and r.path == "/avatars/"]


def test_missing_photo_is_named(tmp_path, sandbox):
    client = make_client(sandbox)
    with pytest.raises(InputError, match="does not exist"):
        client.create_avatar(tmp_path / "nope.jpg", name="x", subtype="female",
                             parameters={}, export_parameters={})


def test_throttling_honours_retry_after(sandbox):
    client = make_client(sandbox)
    client.ensure_player()
    sandbox.faults.retry_after = 0.3
    sandbox.faults.throttle_next = 2
    start = time.monotonic()
    assert client.available_parameters("female")
    assert time.monotonic() - start >= 0.55
    statuses = [r.status for r in settled_log(sandbox) if r.path.startswith("/parameters/")]
    assert statuses == [429, 429, 200]


def test_throttling_without_retry_after_gives_up_with_a_clear_error(sandbox):
    client = make_client(sandbox, retry=RetryPolicy(base=0.0, cap=0.0, throttle_attempts=3))
    client.ensure_player()
    sandbox.faults.retry_after = None
    sandbox.faults.throttle_next = 10
    with pytest.raises(ThrottledError, match="throttling"):
        client.available_parameters("female")
    assert len([r for r in settled_log(sandbox) if r.path.startswith("/parameters/")]) == 3


def test_burst_of_500_is_retried(sandbox):
    client = make_client(sandbox)
    client.ensure_player()
    sandbox.faults.error_status = 500
    sandbox.faults.error_next = 3
    assert client.available_export_parameters("female")


def test_token_expiry_authenticates_again_once(sandbox):
    client = make_client(sandbox)
    client.ensure_player()
    sandbox.faults.expire_tokens()
    assert client.available_parameters("female")
    assert len([r for r in settled_log(sandbox) if r.path == "/o/token/"]) == 2


def test_connection_refused_is_a_network_error(sandbox):
    url = sandbox.base_url
    sandbox.stop()
    client = make_client(sandbox, base_url=url, retry=RetryPolicy(base=0.0, cap=0.0,
                                                                  max_attempts=2))
    with pytest.raises(NetworkError, match="connection refused"):
        client.authenticate()


def test_plain_http_is_refused_unless_loopback():
    with pytest.raises(ConfigError, match="plain http"):
        check_base_url("http://api.example.com/")
    assert check_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/"
    assert check_base_url("https://api.example.com") == "https://api.example.com/"


def test_truncated_download_is_resumed_with_range(sandbox, photo, tmp_path):
    sandbox.config.extra_archive_bytes = 400_000
    client = make_client(sandbox)
    avatar = client.create_avatar(photo, name="t", subtype="female",
                                  parameters=default_parameters(),
                                  export_parameters=default_export_parameters())
    while not client.get_avatar(avatar.code).done:
        time.sleep(0.05)
    export = client.list_exports(avatar.code)[0]
    while not export.done:
        time.sleep(0.05)
        export = client.get_export(avatar.code, export.code)
    sandbox.faults.truncate_at_bytes = 250_000
    sandbox.faults.truncate_next_downloads = 1
    dest = tmp_path / "export.zip"
    client.download(export.main_file().file, dest)
    assert zipfile.ZipFile(dest).testzip() is None
    ranged = [r for r in settled_log(sandbox) if "/files/" in r.path and r.status == 206]
    assert ranged, "the second request should resume with Range"
    assert not list(Path(tmp_path).glob(".*.part"))
