"""GLB parsing, URI checks, image resolution and import staging (plain Python)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from avatar_importer.core.errors import GlbFormatError, InputError, UnsafeUriError
from avatar_importer.core.glb import (
    Glb,
    check_uri,
    encode_glb,
    external_buffer_uris,
    external_image_uris,
    prepare_for_import,
    read_glb,
    resolve_images,
    write_glb,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "samples" / "metaperson"


def make_glb(images: list[dict] | None = None, bin_data: bytes | None = b"\x01\x02\x03") -> Glb:
    doc: dict = {"asset": {"version": "2.0"}}
    if images is not None:
        doc["images"] = images
    if bin_data is not None:
        doc["buffers"] = [{"byteLength": len(bin_data)}]
    return Glb(json=doc, bin=bin_data)


def write_sample(path: Path, uris: list[str]) -> Path:
    write_glb(make_glb([{"uri": u} for u in uris]), path)
    return path


# --- read / write ------------------------------------------------------------------------


def test_roundtrip_pads_chunks(tmp_path: Path) -> None:
    glb = make_glb([{"uri": "a.png"}], bin_data=b"12345")
    path = tmp_path / "m.glb"
    write_glb(glb, path)
    data = path.read_bytes()
    assert data[:4] == b"glTF"
    assert struct.unpack_from("<I", data, 8)[0] == len(data)
    json_len = struct.unpack_from("<I", data, 12)[0]
    assert json_len % 4 == 0
    bin_len = struct.unpack_from("<I", data, 20 + json_len)[0]
    assert bin_len == 8
    back = read_glb(path)
    assert back.json == glb.json
    assert back.bin == b"12345\x00\x00\x00"
    assert [p.name for p in tmp_path.iterdir()] == ["m.glb"]  # no temp file left


def test_read_from_bytes_without_bin() -> None:
    glb = read_glb(encode_glb(make_glb([], bin_data=None)))
    assert glb.bin is None
    assert glb.json["asset"]["version"] == "2.0"


def test_truncated_glb_names_file(tmp_path: Path) -> None:
    data = encode_glb(make_glb([{"uri": "a.png"}], bin_data=b"x" * 100))
    path = tmp_path / "broken.glb"
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(GlbFormatError, match=r"broken\.glb.*truncated"):
        read_glb(path)


def test_truncated_inside_chunk(tmp_path: Path) -> None:
    data = bytearray(encode_glb(make_glb([], bin_data=b"x" * 100)))
    # keep the header honest about the shorter length: the BIN chunk itself is cut short
    cut = data[: len(data) - 40]
    struct.pack_into("<I", cut, 8, len(cut))
    with pytest.raises(GlbFormatError, match="truncated"):
        read_glb(bytes(cut))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a GLB"),
        (b"PK\x03\x04" + b"\x00" * 40, "not a GLB"),
        (b'{"asset": {"version": "2.0"}}', "not a GLB"),
        (struct.pack("<4sII", b"glTF", 1, 12), "version 1"),
        (struct.pack("<4sII", b"glTF", 2, 12), "no JSON chunk"),
    ],
)
def test_not_a_glb(data: bytes, message: str) -> None:
    with pytest.raises(GlbFormatError, match=message):
        read_glb(data)


def test_bad_json_chunk() -> None:
    payload = b"{not json"
    payload += b" " * ((4 - len(payload) % 4) % 4)
    data = struct.pack("<4sII", b"glTF", 2, 20 + len(payload))
    data += struct.pack("<II", len(payload), 0x4E4F534A) + payload
    with pytest.raises(GlbFormatError, match="not valid JSON"):
        read_glb(data)


def test_first_chunk_must_be_json() -> None:
    data = struct.pack("<4sII", b"glTF", 2, 24) + struct.pack("<II", 4, 0x004E4942) + b"abcd"
    with pytest.raises(GlbFormatError, match="not JSON"):
        read_glb(data)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GlbFormatError, match=r"nope\.glb"):
        read_glb(tmp_path / "nope.glb")


def test_external_uris() -> None:
    doc = {
        "images": [
            {"uri": "a.png"},
            {"uri": "data:image/png;base64,AAAA"},
            {"bufferView": 0},
            {"uri": "a.png"},
            {"uri": "sub/b.jpg"},
        ],
        "buffers": [{"byteLength": 4}, {"uri": "extra.bin", "byteLength": 4}],
    }
    assert external_image_uris(doc) == ["a.png", "sub/b.jpg"]
    assert external_buffer_uris(doc) == ["extra.bin"]


# --- URI safety ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "   ",
        "../secret.png",
        "../../etc/hostname",
        "a/../../b.png",
        "a/..",
        "..\\..\\windows\\win.ini",
        "textures\\..\\..\\x.png",
        "%2e%2e/etc/passwd",
        "%2E%2E%2Fetc%2Fpasswd",
        "a%2f..%2f..%2fb.png",
        "%252e%252e/etc/passwd",
        "..%5c..%5cx.png",
        "/etc/passwd",
        "\\etc\\passwd",
        "//host/share/x.png",
        "\\\\host\\share\\x.png",
        "%2Fetc%2Fpasswd",
        "C:\\Windows\\x.png",
        "C:/Windows/x.png",
        "c:x.png",
        "file:///etc/passwd",
        "file:x.png",
        "http://example.com/x.png",
        "https://example.com/x.png",
        "HTTPS://example.com/x.png",
        "ftp://example.com/x.png",
        "blob:abc",
        "x.png\x00.jpg",
    ],
)
def test_unsafe_uris(uri: str) -> None:
    with pytest.raises(UnsafeUriError):
        check_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "ARPI_Color_1K.jpg",
        "textures/a.png",
        "./a.png",
        "a%20b.png",
        "my..file.png",
        "data:image/png;base64,AAAA",
        "DATA:image/png;base64,AAAA",
    ],
)
def test_safe_uris(uri: str) -> None:
    check_uri(uri)


# --- resolution ---------------------------------------------------------------------------


def test_resolve_order_beside_cache_folder(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "beside.png").write_bytes(b"b")
    (export / "sub").mkdir()
    (export / "sub" / "nested.png").write_bytes(b"n")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cached.png").write_bytes(b"c")
    (cache / "both.png").write_bytes(b"c2")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "both.png").write_bytes(b"f")
    (folder / "only folder.png").write_bytes(b"f2")
    glb_path = write_sample(
        export / "model.glb",
        ["beside.png", "sub/nested.png", "cached.png", "both.png", "only%20folder.png", "gone.png"],
    )
    cache_map = {"cached.png": cache / "cached.png", "both.png": cache / "both.png",
                 "stale.png": cache / "stale.png"}
    res = resolve_images(glb_path, [cache_map, folder])
    assert res.found == {
        "beside.png": export / "beside.png",
        "sub/nested.png": export / "sub" / "nested.png",
        "cached.png": cache / "cached.png",
        "both.png": cache / "both.png",
        "only%20folder.png": folder / "only folder.png",
    }
    assert res.source == {
        "beside.png": "beside",
        "sub/nested.png": "beside",
        "cached.png": "cache",
        "both.png": "cache",
        "only%20folder.png": "folder",
    }
    assert res.missing == ["gone.png"]


def test_resolve_rejects_unsafe_before_touching_disk(tmp_path: Path) -> None:
    glb_path = write_sample(tmp_path / "m.glb", ["ok.png", "../../etc/hostname"])
    with pytest.raises(UnsafeUriError, match="hostname"):
        resolve_images(glb_path, [tmp_path])


# --- staging for import ----------------------------------------------------------------------


def test_prepare_returns_original_when_all_beside(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"a")
    glb_path = write_sample(tmp_path / "m.glb", ["a.png"])
    res = resolve_images(glb_path)
    out = tmp_path / "stage"
    assert prepare_for_import(glb_path, res, out) == glb_path
    assert not out.exists()


def test_prepare_stages_and_rewrites(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "a.png").write_bytes(b"beside")
    cache = tmp_path / "cache"
    (cache / "x").mkdir(parents=True)
    (cache / "y").mkdir(parents=True)
    (cache / "x" / "dup.png").write_bytes(b"one")
    (cache / "y" / "Dup.png").write_bytes(b"two")
    (cache / "b c.jpg").write_bytes(b"cached")
    glb_path = write_sample(export / "model.glb", ["a.png", "b%20c.jpg", "p/dup.png", "q/Dup.png"])
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    res = resolve_images(
        glb_path,
        [{"b c.jpg": cache / "b c.jpg", "dup.png": cache / "x" / "dup.png"}, cache / "y"],
    )
    assert not res.missing
    out = tmp_path / "stage"
    staged = prepare_for_import(glb_path, res, out)
    assert staged.parent == out and staged != glb_path
    doc = read_glb(staged).json
    uris = [img["uri"] for img in doc["images"]]
    for uri in uris:
        check_uri(uri)
        assert "/" not in uri
    contents = [(out / uri.replace("%20", " ")).read_bytes() for uri in uris]
    assert contents == [b"beside", b"cached", b"one", b"two"]
    assert read_glb(staged).bin == read_glb(glb_path).bin
    # the cache and the original GLB are untouched
    assert {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()} == before
    assert external_image_uris(read_glb(glb_path).json)[0] == "a.png"


def test_prepare_refuses_missing(tmp_path: Path) -> None:
    glb_path = write_sample(tmp_path / "m.glb", ["gone.png"])
    res = resolve_images(glb_path)
    with pytest.raises(InputError, match=r"gone\.png"):
        prepare_for_import(glb_path, res, tmp_path / "stage")


def test_prepare_names_where_a_missing_image_was_expected(tmp_path: Path) -> None:
    # the importer joins the URI onto the staging folder: an absolute path stays itself, so
    # its "Cannot read ..." names the user's folder, never the temporary one
    (tmp_path / "a.png").write_bytes(b"here")
    glb_path = write_sample(tmp_path / "m.glb", ["a.png", "gone%20too.png", "lost.png"])
    res = resolve_images(glb_path)
    assert res.missing == ["gone%20too.png", "lost.png"]
    expected = tmp_path / "user folder" / "gone too.png"
    staged = prepare_for_import(glb_path, res, tmp_path / "stage", allow_missing=True,
                                missing_paths={"gone%20too.png": expected})
    uris = [img["uri"] for img in read_glb(staged).json["images"]]
    assert uris[0] == "a.png" and (tmp_path / "stage" / "a.png").read_bytes() == b"here"
    assert Path(uris[1].replace("%20", " ")) == expected.absolute()
    assert uris[2] == "lost.png" and not (tmp_path / "stage" / "lost.png").exists()


def test_prepare_stages_external_buffer(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "extra.bin").write_bytes(b"\x00" * 8)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "t.png").write_bytes(b"t")
    glb = make_glb([{"uri": "t.png"}])
    glb.json["buffers"].append({"uri": "extra.bin", "byteLength": 8})
    glb_path = export / "m.glb"
    write_glb(glb, glb_path)
    staged = prepare_for_import(glb_path, resolve_images(glb_path, [cache]), tmp_path / "s")
    doc = json.loads(json.dumps(read_glb(staged).json))
    assert (staged.parent / doc["buffers"][1]["uri"]).read_bytes() == b"\x00" * 8


# --- the real samples ---------------------------------------------------------------------------


def _sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"shared sample {name} not available")
    return path


def test_real_outfit_lists_five_external_textures() -> None:
    glb = read_glb(_sample("outfit_ARPI_lod2_external_textures.glb"))
    uris = external_image_uris(glb.json)
    assert len(uris) == 5
    assert "ARPI_Color_1K.jpg" in uris
    for uri in uris:
        check_uri(uri)


def test_real_head_is_self_contained() -> None:
    path = _sample("head_lod2_female.glb")
    glb = read_glb(path)
    assert external_image_uris(glb.json) == []
    assert glb.bin is not None and len(glb.bin) >= glb.json["buffers"][0]["byteLength"]
    assert resolve_images(path).missing == []
