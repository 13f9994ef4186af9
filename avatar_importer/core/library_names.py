"""The one rule for what an asset library file may be called: ``DIR/<name>.blend``.

Every way into the library uses it: a manifest row's ``name`` is checked with
:func:`name_problem` (a bad name fails the row, naming why), an avatar's name from the
service (Back Up All) or a collection's name (Save to Library) is made into one with
:func:`library_name`. The two agree: a name the manifest accepts is its own library name
(``library_name(n) == n`` exactly when ``name_problem(n) == ""``), so the same name gives
the same file whichever way the avatar was saved.

The rule: at most :data:`MAX_NAME_BYTES` bytes of UTF-8 (a Blender datablock name: the
asset's collection has the file's name); none of ``/ \\ : * ? " < > |`` nor control
characters (the file must be usable on Linux, macOS and Windows: a library moves to farm
shares); no leading dot (the library's hidden and temporary files) nor leading or trailing
space, no trailing dot (Windows drops it); not a Windows device name (``CON``, ``NUL``,
``COM1``...). Names are compared without case (:func:`name_key`): ``Ada`` and ``ada`` would
be one file on macOS and Windows. No bpy here.
"""

from __future__ import annotations

import re

MAX_NAME_BYTES = 63  # Blender's datablock names hold 63 bytes (before 5.0)
FALLBACK = "avatar"
_BAD = re.compile(r"[/\\:*?\"<>|\x00-\x1f\x7f]+")
_DEVICE = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$",
                     re.IGNORECASE | re.DOTALL)


def library_name(text: str, fallback: str = FALLBACK) -> str:
    """``text`` made into a library name: each run of refused characters becomes ``_``,
    leading dots and spaces and trailing dots and spaces are dropped, the rest cut to
    :data:`MAX_NAME_BYTES` (whole characters); a device name gets a ``_`` after it.
    ``fallback`` when nothing is left."""
    name = _BAD.sub("_", str(text)).lstrip(" .")
    name = _cut(name, MAX_NAME_BYTES).rstrip(" .")
    device = _DEVICE.match(name)
    if device:  # "CON" -> "CON_", "nul.x" -> "nul_.x"
        name = _cut(device[1] + "_" + name[len(device[1]):], MAX_NAME_BYTES).rstrip(" .")
    return name or fallback


def with_suffix(name: str, suffix: str) -> str:
    """``<name>_<suffix>`` as a library name, ``name`` cut so the suffix is kept whole
    (two avatars of one name: the second is told apart by its code)."""
    tail = "_" + library_name(suffix, fallback="")
    return library_name(_cut(name, MAX_NAME_BYTES - len(tail.encode())).rstrip(" .") + tail)


def name_problem(name: str) -> str:
    """Why ``name`` cannot name a library file as it is ('' when it can)."""
    if not name:
        return "empty: every row needs a unique name"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"{name[:20]!r}... is longer than {MAX_NAME_BYTES} bytes"
    if _DEVICE.match(name):
        return f"{name!r} is a Windows device name (CON, NUL, COM1...): it cannot name a file"
    if library_name(name) != name:
        return (f"{name!r} cannot name a file: no / \\ : * ? \" < > |, control characters, "
                "leading dot or space, trailing dot or space")
    return ""


def name_key(name: str) -> str:
    """What makes two library names the same file on a case-insensitive disk."""
    return name.casefold()


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, on a character boundary."""
    data = text.encode()
    return text if len(data) <= limit else data[:max(0, limit)].decode(errors="ignore")
