"""GLB reading, writing, URI safety checks and external-image resolution (no bpy).

How external images reach Blender's glTF importer (``prepare_for_import``):

Blender resolves an image ``uri`` as ``join(dirname(glb), normpath(unquote(uri)))`` and
reads whatever file that names. We never hand it a URI we did not write ourselves when
the GLB needs anything from outside its own folder:

1. Every URI is checked first (``check_uri``): no ``..``, no absolute path, no scheme
   other than ``data:``. Images are then resolved (``resolve_images``): beside the GLB,
   then in the static-resource cache map, then in search folders.
2. If every external image was found beside the GLB under exactly its URI, the GLB is
   handed over unchanged (nothing is staged).
3. Otherwise a staging folder ``out_dir`` receives a hard link (a copy when linking is
   impossible, e.g. across file systems) of every resolved image under a plain,
   collision-free basename (``staged_names``), hard links/copies of any external
   buffers, and a rewritten copy of the GLB whose ``images[].uri`` are those basenames
   (percent-encoded). That copy is what the importer opens. Files in the cache are only
   ever linked or read, never written; the caller may delete ``out_dir`` after import
   (the Blender layer re-points image paths to the resolved originals).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

from .errors import GlbFormatError, InputError, UnsafeUriError

GLB_MAGIC = b"glTF"
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
_HEADER = struct.Struct("<4sII")
_CHUNK_HEADER = struct.Struct("<II")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")

#: where a resolved image was found
SOURCE_BESIDE = "beside"
SOURCE_CACHE = "cache"
SOURCE_FOLDER = "folder"


@dataclass
class Glb:
    """A parsed GLB: the JSON chunk as a dict and the BIN chunk (None when absent)."""

    json: dict[str, Any]
    bin: bytes | None = None


@dataclass
class ImageResolution:
    """Where each external image URI of a GLB was found."""

    found: dict[str, Path] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    #: URIs whose file is already where the importer will look (beside the GLB, under the
    #: URI itself): a GLB with only such images is imported as it is, nothing staged
    in_place: set[str] = field(default_factory=set)


# --- reading and writing --------------------------------------------------------------


def read_glb(path_or_bytes: Path | str | bytes | bytearray) -> Glb:
    """Parse a binary glTF 2.0 file; raise ``GlbFormatError`` naming the file when bad."""
    if isinstance(path_or_bytes, bytes | bytearray):
        data = bytes(path_or_bytes)
        label = "GLB data"
    else:
        path = Path(path_or_bytes)
        label = path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GlbFormatError(f"Cannot read {label}: {exc.strerror or exc}") from exc

    if len(data) < _HEADER.size:
        raise GlbFormatError(f"{label} is not a GLB file (only {len(data)} bytes)")
    magic, version, length = _HEADER.unpack_from(data, 0)
    if magic != GLB_MAGIC:
        raise GlbFormatError(f"{label} is not a GLB file (no 'glTF' header)")
    if version != GLB_VERSION:
        raise GlbFormatError(f"{label} is glTF binary version {version}; only 2 is supported")
    if length > len(data):
        raise GlbFormatError(
            f"{label} is truncated: header says {length} bytes, file has {len(data)}"
        )

    offset = _HEADER.size
    json_dict: dict[str, Any] | None = None
    bin_chunk: bytes | None = None
    index = 0
    while offset < length:
        if offset + _CHUNK_HEADER.size > length:
            raise GlbFormatError(f"{label} is truncated inside chunk {index}'s header")
        chunk_len, chunk_type = _CHUNK_HEADER.unpack_from(data, offset)
        start = offset + _CHUNK_HEADER.size
        end = start + chunk_len
        if end > length:
            raise GlbFormatError(
                f"{label} is truncated: chunk {index} needs {chunk_len} bytes, "
                f"{length - start} left"
            )
        payload = data[start:end]
        if index == 0:
            if chunk_type != CHUNK_JSON:
                raise GlbFormatError(f"{label}: the first chunk is not JSON")
            try:
                parsed = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise GlbFormatError(f"{label}: the JSON chunk is not valid JSON ({exc})") from exc
            if not isinstance(parsed, dict):
                raise GlbFormatError(f"{label}: the JSON chunk is not an object")
            json_dict = parsed
        elif chunk_type == CHUNK_BIN and bin_chunk is None:
            bin_chunk = payload
        # other chunk types are ignored, as the specification asks
        offset = end
        index += 1

    if json_dict is None:
        raise GlbFormatError(f"{label} has no JSON chunk")
    return Glb(json=json_dict, bin=bin_chunk)


def read_model(path: Path | str) -> Glb:
    """A glTF model file as a ``Glb``: a binary ``.glb`` (JSON + BIN chunk) or a JSON
    ``.gltf`` (``bin`` is None; its buffers carry their own URIs). Told apart by content
    (the ``glTF`` magic), not by the name. ``GlbFormatError`` naming the file when bad."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise GlbFormatError(f"Cannot read {path.name}: {exc.strerror or exc}") from exc
    if head == GLB_MAGIC or path.suffix.lower() != ".gltf":
        return read_glb(path)
    try:
        parsed = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise GlbFormatError(f"Cannot read {path.name}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise GlbFormatError(f"{path.name} is not a valid glTF JSON file ({exc})") from exc
    if not isinstance(parsed, dict) or not isinstance(parsed.get("asset"), dict):
        raise GlbFormatError(f"{path.name} is not a glTF file (no 'asset' object)")
    return Glb(json=parsed, bin=None)


def _pad(data: bytes, filler: bytes) -> bytes:
    return data + filler * ((4 - len(data) % 4) % 4)


def encode_glb(glb: Glb) -> bytes:
    """Serialise ``glb`` as GLB bytes (chunks padded to 4 bytes: JSON with spaces, BIN with 0)."""
    json_bytes = _pad(
        json.dumps(glb.json, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), b" "
    )
    parts = [_CHUNK_HEADER.pack(len(json_bytes), CHUNK_JSON), json_bytes]
    if glb.bin is not None:
        bin_bytes = _pad(glb.bin, b"\x00")
        parts += [_CHUNK_HEADER.pack(len(bin_bytes), CHUNK_BIN), bin_bytes]
    body = b"".join(parts)
    return _HEADER.pack(GLB_MAGIC, GLB_VERSION, _HEADER.size + len(body)) + body


def write_glb(glb: Glb, path: Path, *, durable: bool = True) -> None:
    """Write ``glb`` to ``path`` atomically (temporary file in the same folder + rename).

    ``durable=False`` skips the ``fsync``: for throw-away files (the import's staging
    copy) whose loss in a crash does not matter."""
    path = Path(path)
    data = encode_glb(glb)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


# --- URIs -----------------------------------------------------------------------------


def _is_data_uri(uri: str) -> bool:
    return uri[:5].lower() == "data:"


def external_image_uris(glb_json: Mapping[str, Any]) -> list[str]:
    """``images[].uri`` values that are not ``data:`` URIs, in order, without repeats."""
    return _external_uris(glb_json, "images")


def external_buffer_uris(glb_json: Mapping[str, Any]) -> list[str]:
    """``buffers[].uri`` values that are not ``data:`` URIs (the GLB's BIN buffer has none)."""
    return _external_uris(glb_json, "buffers")


def _external_uris(glb_json: Mapping[str, Any], key: str) -> list[str]:
    result: list[str] = []
    for item in glb_json.get(key) or []:
        uri = item.get("uri") if isinstance(item, Mapping) else None
        if isinstance(uri, str) and not _is_data_uri(uri) and uri not in result:
            result.append(uri)
    return result


def _decoded_forms(uri: str) -> list[str]:
    """The URI as written, then percent-decoded repeatedly until stable (max 5 rounds)."""
    forms = [uri]
    current = uri
    for _ in range(5):
        decoded = unquote(current)
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    return forms


def check_uri(uri: str) -> None:
    """Raise ``UnsafeUriError`` unless ``uri`` is a data: URI or a plain relative path
    that stays inside the GLB's folder (checked raw and after percent-decoding)."""
    if not isinstance(uri, str) or not uri.strip():
        raise UnsafeUriError("The GLB has an image or buffer with an empty URI")
    if _is_data_uri(uri):
        return
    for form in _decoded_forms(uri):
        text = form.replace("\\", "/")
        if "\x00" in text or any(ord(ch) < 0x20 for ch in text):
            raise UnsafeUriError(f"Unsafe URI {uri!r} in the GLB: it contains control characters")
        if _SCHEME.match(text):
            # covers http:, https:, file:, ftp: ... and drive letters such as C:/ or C:\
            raise UnsafeUriError(
                f"Unsafe URI {uri!r} in the GLB: only files beside it are allowed, "
                "not URLs or drive paths"
            )
        if text.startswith("/"):
            # /x, \x, //host, \\host
            raise UnsafeUriError(f"Unsafe URI {uri!r} in the GLB: absolute paths are not allowed")
        if ".." in text.split("/"):
            raise UnsafeUriError(
                f"Unsafe URI {uri!r} in the GLB: it points outside the GLB's folder"
            )


def uri_to_relpath(uri: str) -> PurePosixPath:
    """The relative path Blender's importer reads for ``uri`` (backslashes to '/',
    percent-decoded once, '.' and empty segments dropped). Call ``check_uri`` first."""
    text = unquote(uri.replace("\\", "/"))
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafeUriError(f"Unsafe URI {uri!r} in the GLB: it names no file")
    return PurePosixPath(*parts)


# --- resolution and staging -------------------------------------------------------------


def resolve_images(
    glb_path: Path, search: Sequence[Mapping[str, Path] | Path | str] = (), *,
    glb: Glb | None = None,
) -> ImageResolution:
    """Find every external image of the GLB: beside it first, then in each ``search``
    entry in order (a mapping basename -> file for the static-resource cache, or a folder).

    Every URI is checked with ``check_uri`` first (``UnsafeUriError`` on the first bad one).
    """
    glb_path = Path(glb_path)
    glb = glb if glb is not None else read_model(glb_path)
    uris = external_image_uris(glb.json)
    for uri in uris:
        check_uri(uri)
    result = ImageResolution()
    base = glb_path.parent
    for uri in uris:
        rel = uri_to_relpath(uri)
        beside = base.joinpath(*rel.parts)
        if beside.is_file():
            result.in_place.add(uri)
            cached = _same_as_cached(beside, search, rel.name)
            result.found[uri] = cached or beside
            result.source[uri] = SOURCE_CACHE if cached else SOURCE_BESIDE
            continue
        for entry in search:
            hit = _search_entry(entry, rel.name)
            if hit is not None:
                result.found[uri] = hit[0]
                result.source[uri] = hit[1]
                break
        else:
            result.missing.append(uri)
    return result


def _same_as_cached(beside: Path, search: Sequence[Mapping[str, Path] | Path | str],
                    name: str) -> Path | None:
    """The cache file that ``beside`` is a hard link of (placed there by the job's worker,
    see ``place_beside``), so the report still says where the texture comes from."""
    for entry in search:
        if isinstance(entry, Mapping) and entry.get(name) is not None:
            with contextlib.suppress(OSError):
                if os.path.samefile(beside, entry[name]):
                    return Path(entry[name])
    return None


def place_beside(glb_path: Path, files: Mapping[str, Path]) -> None:
    """Hard-link (copy when linking fails) each ``name -> file`` beside the GLB unless a
    file of that name is already there: the import then finds every texture in place and
    stages nothing on Blender's main thread. Used by job workers on their own export
    folder; the linked files are never written to."""
    for name, source in files.items():
        if not name or "/" in name or "\\" in name or name.startswith("."):
            continue
        target = Path(glb_path).parent / name
        if not target.exists() and Path(source).is_file():
            with contextlib.suppress(OSError):  # best effort: staging still works without
                _link_or_copy(Path(source), target)


def _search_entry(entry: Mapping[str, Path] | Path | str, name: str) -> tuple[Path, str] | None:
    if isinstance(entry, Mapping):
        candidate = entry.get(name)
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate), SOURCE_CACHE
        return None
    path = Path(entry) / name
    return (path, SOURCE_FOLDER) if path.is_file() else None


_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._\-]")


def staged_names(
    resolution: ImageResolution, *, include_missing: bool = False
) -> dict[str, str]:
    """The basename each resolved URI gets in the staging folder: its own basename when
    unique (case-insensitively), else prefixed with its index; only safe characters.
    ``include_missing`` also names the missing URIs (after the found ones): no file is
    staged under those names, so the importer makes its placeholder image for each."""
    names: dict[str, str] = {}
    used: set[str] = set()
    uris = list(resolution.found)
    if include_missing:
        uris += [uri for uri in resolution.missing if uri not in resolution.found]
    for index, uri in enumerate(uris):
        raw = uri_to_relpath(uri).name
        name = _UNSAFE_NAME_CHARS.sub("_", raw).lstrip(".") or f"image{index}"
        if name.casefold() in used:
            name = f"{index}_{name}"
        used.add(name.casefold())
        names[uri] = name
    return names


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def prepare_for_import(
    glb_path: Path, resolution: ImageResolution, out_dir: Path, *, allow_missing: bool = False,
    glb: Glb | None = None, missing_paths: Mapping[str, Path] | None = None,
) -> Path:
    """Return the GLB path to hand to Blender's importer so that every resolved external
    image loads from its resolved file (see the module docstring for the mechanism).

    ``allow_missing``: missing images do not raise; their URIs are rewritten to names
    (``staged_names(..., include_missing=True)``) under which nothing is staged, so the
    importer leaves a placeholder image for each, never reading anything else.
    ``missing_paths`` (with ``allow_missing``): for missing URIs, the absolute path where the
    user's file was expected (it must not exist); the staged copy names that path instead
    of a staging name, so the importer's own messages ("Cannot read ...") and its
    placeholder name the user's folder, never the temporary one. ``glb_path``
    may also be a ``.gltf`` (``read_model``); a staged copy is always a ``.glb``."""
    glb_path = Path(glb_path)
    if resolution.missing and not allow_missing:
        raise InputError(
            f"Cannot prepare {glb_path.name}: missing images " + ", ".join(resolution.missing)
        )
    glb = glb if glb is not None else read_model(glb_path)
    image_uris = external_image_uris(glb.json)
    buffer_uris = external_buffer_uris(glb.json)
    for uri in image_uris + buffer_uris:
        check_uri(uri)
    missing = set(resolution.missing) if allow_missing else set()
    unresolved = [uri for uri in image_uris
                  if uri not in resolution.found and uri not in missing]
    if unresolved:
        raise InputError(
            f"Cannot prepare {glb_path.name}: images not resolved " + ", ".join(unresolved)
        )

    if all(uri in resolution.in_place for uri in image_uris):
        return glb_path  # Blender finds everything where the GLB says: nothing to do

    # the URIs are rewritten below: never in the caller's parsed copy
    glb = Glb(json=copy.deepcopy(glb.json), bin=glb.bin)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = staged_names(resolution, include_missing=allow_missing)
    taken = {name.casefold() for name in names.values()}
    for uri in image_uris:
        if uri in resolution.found:
            _link_or_copy(resolution.found[uri], out_dir / names[uri])

    new_buffer_uri: dict[str, str] = {}
    for index, uri in enumerate(buffer_uris):
        source = glb_path.parent.joinpath(*uri_to_relpath(uri).parts)
        name = _UNSAFE_NAME_CHARS.sub("_", source.name).lstrip(".") or f"buffer{index}"
        if name.casefold() in taken:
            name = f"buffer{index}_{name}"
        taken.add(name.casefold())
        if source.is_file():
            _link_or_copy(source, out_dir / name)
        new_buffer_uri[uri] = quote(name)

    expected_at = {uri: Path(path).absolute() for uri, path in (missing_paths or {}).items()
                   if uri in missing}
    for image in glb.json.get("images") or []:
        uri = image.get("uri")
        if isinstance(uri, str) and uri in expected_at:  # joined onto the staging folder,
            image["uri"] = quote(expected_at[uri].as_posix())  # an absolute path stays itself
        elif isinstance(uri, str) and uri in names:
            image["uri"] = quote(names[uri])
    for buffer in glb.json.get("buffers") or []:
        uri = buffer.get("uri")
        if isinstance(uri, str) and uri in new_buffer_uri:
            buffer["uri"] = new_buffer_uri[uri]

    stem = _UNSAFE_NAME_CHARS.sub("_", glb_path.stem).lstrip(".") or "model"
    while f"{stem}.glb".casefold() in taken:
        stem = f"_{stem}"
    target = out_dir / f"{stem}.glb"
    write_glb(glb, target, durable=False)  # a throw-away staging copy
    return target
