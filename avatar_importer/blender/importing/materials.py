"""Per-part material fix-ups after the glTF import, so avatars render right everywhere.

Blender's glTF importer turns ``alphaMode`` into one generic setting; an avatar needs more
than that: hair cards that sort (dithered/hashed, soft alpha), eyelashes blended over the
skin without black shadows, corneas as clear glossy shells (never a grey block over the
eyes), and back-face settings that suit each part. The part is told by name (MetaPerson:
``haircut``, ``AvatarEyelashes``, ``AvatarLeftCornea``, ...; Avaturn: ``avaturn_hair_0``,
``Eyelash_Mesh``, ...), from the material's own name first, then from the objects using it.

Everything here is O(materials) (a few nodes per material, no pixel is read). Every
Blender-version difference goes through ``compat``. Main thread only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import compat

# part kinds
HAIR = "hair"
EYELASHES = "eyelashes"
CORNEA = "cornea"
EYEBALL = "eyeball"
TEETH = "teeth"
SKIN = "skin"
OUTFIT = "outfit"
GLASSES = "glasses"
OTHER = "other"

#: Cycles transparent bounces that render stacked hair cards without black patches
HAIR_TRANSPARENT_BOUNCES = 64
#: the cornea's index of refraction, for the Fresnel weight of its reflection
CORNEA_IOR = 1.376
_NODE_TAG = "Avatar Cornea"

# (kind, pattern on the name without Blender's ".001" suffix), tried in this order
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (CORNEA, re.compile(r"cornea", re.I)),
    (EYELASHES, re.compile(r"eyelash|lashes", re.I)),
    (HAIR, re.compile(r"^haircut|^avaturn_hair|(^|[_\-\s])hair([_\-\s\d]|$)|^hair", re.I)),
    (GLASSES, re.compile(r"glasses|eyewear", re.I)),
    (EYEBALL, re.compile(r"eyeball|^eye_mesh|^avatar(left|right)eye$|^eyes?$", re.I)),
    (TEETH, re.compile(r"teeth|tongue", re.I)),
    (OUTFIT, re.compile(r"^outfit|^avaturn_(look|shoes|outfit)|clothing|footwear|"
                        r"^(dress|jeans|shorts|sneakers|shoes|boots|shirt|t_?shirt|pants|"
                        r"trousers|skirt|jacket|hoodie|sweater|coat|suit|top|bottom)([_\-\s\d]|$)",
                        re.I)),
    (SKIN, re.compile(r"^avatar(head|body)$|^(head|body)_mesh$|^avaturn_body", re.I)),
)

_SUFFIX = re.compile(r"\.\d{3,}$")
#: MetaPerson names its fixed parts Avatar* (root AvatarRoot); any other mesh of such an
#: export is an asset named by its code (an outfit such as ARPI or LORI: haircuts and
#: glasses have their own names)
_METAPERSON = re.compile(r"^Avatar[A-Z]")


def base_name(name: str) -> str:
    """``name`` without the ``.001`` Blender adds when a name is taken."""
    return _SUFFIX.sub("", name)


def classify(name: str) -> str:
    """The part kind for an object or material name (``OTHER`` when unknown)."""
    plain = base_name(name)
    for kind, pattern in _PATTERNS:
        if pattern.search(plain):
            return kind
    return OTHER


@dataclass
class FixupReport:
    parts: dict[str, str] = field(default_factory=dict)  # object name -> part kind
    materials: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_hair(self) -> bool:
        return HAIR in self.parts.values()


# --- node helpers ------------------------------------------------------------------------------


def _nodes_of(mat: Any) -> Any:
    tree = getattr(mat, "node_tree", None)
    return tree.nodes if tree is not None else None


def _output(mat: Any) -> Any | None:
    nodes = _nodes_of(mat)
    if nodes is None:
        return None
    outputs = [n for n in nodes if n.type == "OUTPUT_MATERIAL"]
    active = [n for n in outputs if getattr(n, "is_active_output", False)]
    return (active or outputs or [None])[0]


def _principled(mat: Any) -> Any | None:
    nodes = _nodes_of(mat)
    if nodes is None:
        return None
    return next((n for n in nodes if n.type == "BSDF_PRINCIPLED"), None)


def _upstream_image(socket: Any, depth: int = 4) -> Any | None:
    """The nearest image texture node feeding ``socket`` (through mix/multiply nodes)."""
    frontier = [link.from_node for link in socket.links]
    for _ in range(depth):
        following: list[Any] = []
        for node in frontier:
            if node.type == "TEX_IMAGE":
                return node
            for inp in node.inputs:
                following.extend(link.from_node for link in inp.links)
        frontier = following
    return None


def _image_has_alpha(image: Any) -> bool:
    # depth is bits per pixel of the loaded buffer: 32 (8-bit RGBA), 64 (16-bit), 128 (float)
    try:
        return image is not None and int(image.depth) in (32, 64, 128)
    except (ReferenceError, RuntimeError):
        return False


def _alpha_input(principled: Any) -> Any:
    return principled.inputs["Alpha"]


def _alpha_state(mat: Any) -> str:
    """``linked`` (alpha comes from nodes), ``constant`` (alpha below 1) or ``none``."""
    principled = _principled(mat)
    if principled is None:
        return "none"
    alpha = _alpha_input(principled)
    if alpha.is_linked:
        return "linked"
    return "constant" if float(alpha.default_value) < 0.999 else "none"


def _use_texture_alpha(mat: Any, *, soft: bool) -> str | None:
    """Make the Principled BSDF's alpha come from its colour texture's alpha channel.

    ``soft``: also drop the importer's cut-off (alphaMode MASK: math nodes before 4.2's
    ``alpha_threshold``), so dithering renders the texture's own gradient. Returns what was
    done, or None when nothing needed doing or no texture with alpha exists."""
    principled = _principled(mat)
    if principled is None:
        return None
    tree = mat.node_tree
    alpha = _alpha_input(principled)
    if alpha.is_linked:
        source = alpha.links[0].from_node
        if not soft or source.type == "TEX_IMAGE":
            return None
        texture = _upstream_image(alpha)
        if texture is None:
            return None
        cut_off = _math_chain(source)
        tree.links.new(texture.outputs["Alpha"], alpha)
        _remove_unused(tree, cut_off)
        return "soft texture alpha (cut-off removed)"
    texture = _upstream_image(principled.inputs["Base Color"])
    if texture is None or not _image_has_alpha(texture.image):
        return None
    tree.links.new(texture.outputs["Alpha"], alpha)
    return "alpha from the colour texture"


def _math_chain(node: Any, limit: int = 8) -> list[Any]:
    """``node`` and the math nodes feeding it (the importer's alpha cut-off), downstream
    first."""
    chain: list[Any] = []
    frontier = [node]
    while frontier and len(chain) < limit:
        current = frontier.pop()
        if current.type != "MATH" or current in chain:
            continue
        chain.append(current)
        frontier.extend(link.from_node for inp in current.inputs for link in inp.links)
    return chain


def _remove_unused(tree: Any, nodes: list[Any]) -> None:
    """Remove those of ``nodes`` whose outputs go nowhere any more (downstream first),
    and the frames they leave empty."""
    frames = set()
    for node in nodes:
        if any(out.is_linked for out in node.outputs):
            continue
        if node.parent is not None:
            frames.add(node.parent)
        tree.nodes.remove(node)
    if frames:
        used = {n.parent for n in tree.nodes if n.parent is not None}
        for frame in frames - used:
            tree.nodes.remove(frame)


def _unlink_alpha(mat: Any) -> bool:
    principled = _principled(mat)
    if principled is None:
        return False
    alpha = _alpha_input(principled)
    changed = False
    for link in list(alpha.links):
        mat.node_tree.links.remove(link)
        changed = True
    if float(alpha.default_value) < 1.0:
        alpha.default_value = 1.0
        changed = True
    return changed


def _clear_glossy_shader(mat: Any) -> None:
    """Replace the surface with Mix(Transparent, Glossy) weighted by Fresnel: clear where
    the eye looks straight through, a glossy reflection and highlight towards the rim."""
    tree = mat.node_tree
    output = None
    for node in list(tree.nodes):
        if node.type == "OUTPUT_MATERIAL" and output is None:
            output = node
        else:
            tree.nodes.remove(node)
    if output is None:
        output = tree.nodes.new("ShaderNodeOutputMaterial")
    transparent = tree.nodes.new("ShaderNodeBsdfTransparent")
    transparent.location = (output.location.x - 500, output.location.y + 100)
    glossy = tree.nodes.new("ShaderNodeBsdfGlossy")
    glossy.location = (output.location.x - 500, output.location.y - 100)
    glossy.inputs["Roughness"].default_value = 0.03
    fresnel = tree.nodes.new("ShaderNodeFresnel")
    fresnel.location = (output.location.x - 500, output.location.y + 250)
    fresnel.inputs["IOR"].default_value = CORNEA_IOR
    mix = tree.nodes.new("ShaderNodeMixShader")
    mix.name = f"{_NODE_TAG} Mix"  # how is_clear_cornea recognises it
    mix.location = (output.location.x - 250, output.location.y)
    # by index: "Fac" became "Factor" in 5.0
    tree.links.new(fresnel.outputs[0], mix.inputs[0])
    tree.links.new(transparent.outputs[0], mix.inputs[1])
    tree.links.new(glossy.outputs[0], mix.inputs[2])
    tree.links.new(mix.outputs[0], output.inputs["Surface"])


def is_clear_cornea(mat: Any) -> bool:
    """Whether ``mat`` carries the clear glossy cornea shader of ``_clear_glossy_shader``."""
    nodes = _nodes_of(mat)
    return nodes is not None and f"{_NODE_TAG} Mix" in nodes


# --- per part ----------------------------------------------------------------------------------


def _untextured_eyelashes(mat: Any) -> str:
    """What an eyelash material without a texture draws, in words: its base colour's
    alpha decides (the MetaPerson templates carry alpha 0: nothing is drawn)."""
    principled = _principled(mat)
    alpha = _alpha_input(principled)
    if alpha.is_linked or float(alpha.default_value) >= 0.999:
        return "eyelashes are drawn as a solid band of their base colour"
    if float(alpha.default_value) <= 0.001:
        return "eyelashes are invisible (base colour alpha 0)"
    return (f"eyelashes are drawn as a see-through band of their base colour (alpha "
            f"{float(alpha.default_value):.2f})")


def _fix(mat: Any, kind: str, objects: Sequence[Any], warnings: list[str]) -> list[str]:
    changes: list[str] = []
    surface = compat.set_material_surface
    if kind == HAIR:
        how = _use_texture_alpha(mat, soft=True)
        changes += [how] if how else []
        if how is None and _alpha_state(mat) == "none":
            warnings.append(f"{mat.name}: the hair texture has no alpha channel: "
                            "hair cards are drawn opaque")
        changes += surface(mat, alpha="HASHED", shadow="HASHED", backface_culling=False)
    elif kind == EYELASHES:
        how = _use_texture_alpha(mat, soft=False)
        changes += [how] if how else []
        if _principled(mat) is not None and \
                _upstream_image(_principled(mat).inputs["Base Color"]) is None:
            warnings.append(f"{mat.name}: the export has no eyelash texture: "
                            + _untextured_eyelashes(mat))
        if _alpha_state(mat) == "none":
            changes += surface(mat, alpha="OPAQUE", shadow="OPAQUE", backface_culling=False)
        else:
            changes += surface(mat, alpha="BLEND", shadow="HASHED", backface_culling=False,
                               see_through_back=False)
    elif kind == CORNEA:
        _clear_glossy_shader(mat)
        changes.append(f"clear glossy shader (transparent + glossy, Fresnel IOR {CORNEA_IOR})")
        changes += surface(mat, alpha="BLEND", shadow="NONE", backface_culling=True,
                           see_through_back=False)
        for obj in objects:
            obj.visible_shadow = False
        changes.append("casts no shadow")
    elif kind == EYEBALL:
        if _alpha_state(mat) == "none":
            changes += surface(mat, alpha="OPAQUE", shadow="OPAQUE", backface_culling=True)
        else:  # an eye mesh that carries its own transparent layer: keep it see-through
            changes += surface(mat, alpha="BLEND", shadow="NONE", backface_culling=True,
                               see_through_back=False)
    elif kind in (SKIN, TEETH):
        if _unlink_alpha(mat):
            changes.append("alpha removed (opaque part)")
        changes += surface(mat, alpha="OPAQUE", shadow="OPAQUE",
                           backface_culling=bool(mat.use_backface_culling))
    elif kind == OUTFIT:
        if _alpha_state(mat) == "none":
            changes += surface(mat, alpha="OPAQUE", shadow="OPAQUE",
                               backface_culling=bool(mat.use_backface_culling))
        else:
            changes += surface(mat, alpha="HASHED", shadow="HASHED",
                               backface_culling=bool(mat.use_backface_culling))
    elif kind == GLASSES:
        if _alpha_state(mat) == "none":
            changes += surface(mat, alpha="OPAQUE", shadow="OPAQUE", backface_culling=False)
        else:
            changes += surface(mat, alpha="BLEND", shadow="HASHED", backface_culling=False,
                               see_through_back=False)
    return changes


def _material_kind(mat: Any, users: Sequence[Any], parts: dict[str, str]) -> str:
    kind = classify(mat.name)
    if kind != OTHER:
        return kind
    kinds = [parts.get(obj.name, OTHER) for obj in users]
    for candidate, _pattern in _PATTERNS:  # the most specific kind among its users
        if candidate in kinds:
            return candidate
    return OTHER


def is_metaperson(objects: Iterable[Any]) -> bool:
    """Whether the objects look like a MetaPerson export (``AvatarRoot``, ``AvatarHead``...)."""
    return any(_METAPERSON.match(base_name(o.name)) for o in objects)


def classify_objects(objects: Iterable[Any]) -> dict[str, str]:
    """Part kind of every mesh among ``objects`` (by object name, then its materials;
    in a MetaPerson export an otherwise unknown mesh is an outfit)."""
    objects = list(objects)
    metaperson = is_metaperson(objects)
    parts: dict[str, str] = {}
    for obj in objects:
        if obj.type != "MESH":
            continue
        kind = classify(obj.name)
        if kind == OTHER:
            for slot in obj.material_slots:
                if slot.material is not None and classify(slot.material.name) != OTHER:
                    kind = classify(slot.material.name)
                    break
        if kind == OTHER and metaperson:
            kind = OUTFIT
        parts[obj.name] = kind
    return parts


def apply_fixups(objects: Iterable[Any], *, fix_materials: bool = True) -> FixupReport:
    """Classify the imported meshes and (``fix_materials``) adjust each material once."""
    objects = list(objects)
    report = FixupReport(parts=classify_objects(objects))
    users: dict[str, tuple[Any, list[Any]]] = {}
    for obj in objects:
        if obj.type != "MESH":
            continue
        for slot in obj.material_slots:
            mat = slot.material
            if mat is not None:
                users.setdefault(mat.name, (mat, []))[1].append(obj)
    for mat_name in sorted(users):
        mat, mat_users = users[mat_name]
        kind = _material_kind(mat, mat_users, report.parts)
        changes: list[str] = []
        if fix_materials and kind != OTHER and mat.node_tree is not None:
            changes = _fix(mat, kind, mat_users, report.warnings)
        report.materials.append({
            "name": mat.name, "part": kind, "objects": sorted(o.name for o in mat_users),
            "changes": changes,
        })
    return report


def raise_transparent_bounces(scene: Any,
                              minimum: int = HAIR_TRANSPARENT_BOUNCES) -> tuple[int, int] | None:
    """Raise (never lower) Cycles' transparent bounces to ``minimum``. Returns
    ``(before, after)`` when changed, None when already enough or Cycles is absent."""
    cycles = getattr(scene, "cycles", None)
    if cycles is None or not hasattr(cycles, "transparent_max_bounces"):
        return None
    before = int(cycles.transparent_max_bounces)
    if before >= minimum:
        return None
    cycles.transparent_max_bounces = minimum
    return before, minimum
