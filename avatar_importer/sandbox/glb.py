"""GLB (binary glTF 2.0) writing and reading for the sample avatars: :class:`GlbWriter` (buffer
views, accessors, the container), :class:`SkinnedGlb` (one skeleton and skinned meshes with morph
targets, the layout both sample generators share) and :func:`parse_glb`."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

from .geometry import Mesh, Vec3
from .skeleton import Joint

_FLOAT, _USHORT = 5126, 5123
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_SAMPLER = {"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}


def parse_glb(glb: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON chunk (as a dict) and the BIN chunk (possibly empty) of a GLB."""
    if len(glb) < 20 or glb[:4] != b"glTF":
        raise ValueError("not a GLB file (bad magic)")
    version, total = struct.unpack_from("<II", glb, 4)
    if version != 2 or total > len(glb):
        raise ValueError(f"unsupported or truncated GLB (version {version}, length {total})")
    json_len, json_type = struct.unpack_from("<II", glb, 12)
    if json_type != 0x4E4F534A:
        raise ValueError("GLB's first chunk is not JSON")
    doc = json.loads(glb[20 : 20 + json_len].decode("utf-8"))
    binary = b""
    offset = 20 + json_len
    if offset + 8 <= total:
        bin_len, bin_type = struct.unpack_from("<II", glb, offset)
        if bin_type == 0x004E4942:
            binary = glb[offset + 8 : offset + 8 + bin_len]
    return doc, binary


class GlbWriter:
    """Buffer views and accessors over one binary buffer, and the GLB container around them."""

    def __init__(self) -> None:
        self.binary = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def _view(self, data: bytes, target: int | None) -> int:
        while len(self.binary) % 4:
            self.binary.append(0)
        view: dict[str, Any] = {
            "buffer": 0, "byteOffset": len(self.binary), "byteLength": len(data)
        }
        if target is not None:
            view["target"] = target
        self.binary += data
        self.views.append(view)
        return len(self.views) - 1

    def _accessor(self, data: bytes, ctype: int, count: int, kind: str, target: int | None,
                  bounds: tuple[list[float], list[float]] | None = None) -> int:
        acc: dict[str, Any] = {"bufferView": self._view(data, target), "componentType": ctype,
                               "count": count, "type": kind}
        if bounds:
            acc["min"], acc["max"] = bounds
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def vec3(self, values: Sequence[Vec3], bounds: bool = False) -> int:
        flat = [c for v in values for c in v]
        box = None
        if bounds:
            box = ([min(v[k] for v in values) for k in range(3)],
                   [max(v[k] for v in values) for k in range(3)])
        data = struct.pack(f"<{len(flat)}f", *flat)
        return self._accessor(data, _FLOAT, len(values), "VEC3", _ARRAY_BUFFER, box)

    def vec2(self, values: Sequence[tuple[float, float]]) -> int:
        flat = [c for v in values for c in v]
        data = struct.pack(f"<{len(flat)}f", *flat)
        return self._accessor(data, _FLOAT, len(values), "VEC2", _ARRAY_BUFFER)

    def skin_attributes(self, joints: Sequence[int]) -> tuple[int, int]:
        jdata = struct.pack(f"<{len(joints) * 4}H", *[c for j in joints for c in (j, 0, 0, 0)])
        wdata = struct.pack(f"<{len(joints) * 4}f", *[1.0, 0.0, 0.0, 0.0] * len(joints))
        return (self._accessor(jdata, _USHORT, len(joints), "VEC4", _ARRAY_BUFFER),
                self._accessor(wdata, _FLOAT, len(joints), "VEC4", _ARRAY_BUFFER))

    def indices(self, values: Sequence[int]) -> int:
        fmt = "I" if max(values) > 0xFFFF else "H"
        data = struct.pack(f"<{len(values)}{fmt}", *values)
        ctype = 5125 if fmt == "I" else _USHORT
        return self._accessor(data, ctype, len(values), "SCALAR", _ELEMENT_ARRAY_BUFFER)

    def image(self, data: bytes) -> int:
        """A buffer view holding an embedded image file (its ``images[]`` entry is the caller's)."""
        return self._view(data, None)

    def matrices(self, mats: Sequence[Sequence[float]]) -> int:
        flat = [c for m in mats for c in m]
        return self._accessor(struct.pack(f"<{len(flat)}f", *flat), _FLOAT, len(mats), "MAT4", None)

    def glb(self, doc: dict[str, Any]) -> bytes:
        doc["buffers"] = [{"byteLength": len(self.binary)}]
        doc["bufferViews"] = self.views
        doc["accessors"] = self.accessors
        js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        js += b" " * (-len(js) % 4)
        binary = bytes(self.binary) + b"\0" * (-len(self.binary) % 4)
        total = 12 + 8 + len(js) + 8 + len(binary)
        return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(js), 0x4E4F534A)
                + js + struct.pack("<II", len(binary), 0x004E4942) + binary)


class SkinnedGlb:
    """A GLB of one figure: node 0 (``root``) over the skeleton's joints (nodes 1..n, translations
    only, so the bind pose is the rest pose; joint 0 is the skeleton's root), then one node per
    mesh, every mesh skinned to the one skin. Buffer data is written in call order."""

    def __init__(self, root: str, skeleton: Sequence[Joint], skin_name: str | None = None) -> None:
        self.writer = w = GlbWriter()
        self.nodes: list[dict[str, Any]] = [{"name": root, "children": [1]}]
        for name, parent, pos in skeleton:
            ppos = skeleton[parent][2] if parent >= 0 else (0.0, 0.0, 0.0)
            self.nodes.append({"name": name, "translation": [pos[k] - ppos[k] for k in range(3)]})
        for i, (_, parent, _) in enumerate(skeleton):
            if parent >= 0:
                self.nodes[parent + 1].setdefault("children", []).append(i + 1)
        ibm = [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, -p[0], -p[1], -p[2], 1]
               for _, _, p in skeleton]
        skin: dict[str, Any] = {"joints": list(range(1, len(skeleton) + 1)), "skeleton": 1,
                                "inverseBindMatrices": w.matrices(ibm)}
        if skin_name is not None:
            skin["name"] = skin_name
        self.skins = [skin]
        self.meshes: list[dict[str, Any]] = []
        self.materials: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []  # each has a texture of the same index

    def embed_png(self, name: str, png: bytes) -> int:
        """An image stored in the buffer; its index (also its texture's)."""
        self.images.append({"name": name, "mimeType": "image/png",
                            "bufferView": self.writer.image(png)})
        return len(self.images) - 1

    def add_mesh(self, name: str, mesh: Mesh, material: dict[str, Any], joints: Sequence[int],
                 targets: Sequence[str] = (), deltas: Sequence[Sequence[Vec3]] = (),
                 name_primitive: bool = False) -> None:
        """A node and mesh ``name`` of one primitive with ``material``, each vertex skinned
        fully to its entry in ``joints``, with morph targets ``targets`` moving by ``deltas``
        (names in ``mesh.extras.targetNames``)."""
        if len(deltas) != len(targets):
            raise ValueError(f"{name}: {len(targets)} morph targets but {len(deltas)} deltas")
        w = self.writer
        self.materials.append(material)
        attributes = {"POSITION": w.vec3(mesh.positions, bounds=True),
                      "NORMAL": w.vec3(mesh.normals), "TEXCOORD_0": w.vec2(mesh.uvs)}
        attributes["JOINTS_0"], attributes["WEIGHTS_0"] = w.skin_attributes(joints)
        prim: dict[str, Any] = {"attributes": attributes, "indices": w.indices(mesh.indices),
                                "material": len(self.materials) - 1}
        if name_primitive:
            prim["name"] = name
        entry: dict[str, Any] = {"name": name, "primitives": [prim]}
        if targets:
            prim["targets"] = [{"POSITION": w.vec3(d, bounds=True)} for d in deltas]
            entry["weights"] = [0.0] * len(targets)
            entry["extras"] = {"targetNames": list(targets)}
        self.meshes.append(entry)
        self.nodes.append({"name": name, "mesh": len(self.meshes) - 1, "skin": 0})
        self.nodes[0]["children"].append(len(self.nodes) - 1)

    def glb(self, generator: str, scene_name: str | None = None) -> bytes:
        scene: dict[str, Any] = {"nodes": [0]}
        if scene_name is not None:
            scene = {"name": scene_name, **scene}
        doc: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": generator},
            "scene": 0, "scenes": [scene], "nodes": self.nodes, "skins": self.skins,
            "meshes": self.meshes, "materials": self.materials, "images": self.images,
            "samplers": [dict(_SAMPLER)],
            "textures": [{"sampler": 0, "source": i} for i in range(len(self.images))],
        }
        return self.writer.glb(doc)
