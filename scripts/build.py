#!/usr/bin/env python3
"""Build the add-on's release zips into dist/ (standard library only; Python 3.11+).

    python scripts/build.py [--output-dir DIR] [--blender-ext PATH] [--only WHAT]

Produces, with VERSION taken from ``blender_manifest.toml`` (the one place it is set):

    dist/avatar_importer-VERSION.zip         the extension (Blender 4.2+): built and then
                                             validated with Blender's own ``blender_ext.py``
    dist/avatar_importer-VERSION-legacy.zip  the legacy add-on (Blender 3.4-4.1): top folder
                                             ``avatar_importer/``, ``bl_info`` stamped with
                                             VERSION

``blender_ext.py`` (stdlib only, shipped inside every bpy >= 4.2 wheel at
``bpy/<ver>/scripts/addons_core/bl_pkg/cli/blender_ext.py``) is taken from
``--blender-ext``, else ``$AVATAR_BLENDER_EXT``, else the newest bpy venv under
``$AVATAR_IMPORTER_VENVS`` (default ``~/.cache/avatar_importer/venvs``); when there is none,
``scripts/lib/env.sh``'s ``ensure_bpy_venv 4.2.23`` creates one (~1 GB). The extension zip
is validated by every ``blender_ext.py`` found (each bpy version's own rules); any failure
stops the build with a non-zero exit. ``--only legacy`` needs no ``blender_ext.py``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "avatar_importer"
MANIFEST = REPO / "blender_manifest.toml"
FALLBACK_BPY = "4.2.23"
BLENDER_EXT_GLOB = ("lib/python3.11/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/"
                    "blender_ext.py")
# never shipped, whatever the manifest's [build] section says
EXCLUDED_DIRS = {"__pycache__", "tests", "scripts", ".ci", ".mypy_cache", ".pytest_cache",
                 ".ruff_cache"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", ".swp")
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed entry times: the legacy zip is reproducible


class BuildError(Exception):
    pass


def say(text: str) -> None:
    print(f"build: {text}", flush=True)


# --- version ----------------------------------------------------------------------------


def manifest_version(manifest: Path = MANIFEST) -> str:
    with open(manifest, "rb") as fh:
        data = tomllib.load(fh)
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise BuildError(f"{manifest}: no version")
    return version


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"1.2.3"`` (also ``"1.2.3-rc1"``, ``"1.2.3+build"``) -> ``(1, 2, 3)``."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", version)
    if m is None:
        raise BuildError(f"manifest version {version!r} is not MAJOR.MINOR.PATCH")
    return (int(m[1]), int(m[2]), int(m[3]))


def _bl_info_version_node(tree: ast.Module) -> ast.expr:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "bl_info" for t in targets):
            value = node.value  # type: ignore[union-attr]
            if not isinstance(value, ast.Dict):
                raise BuildError("bl_info is not a dict literal")
            for key, val in zip(value.keys, value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "version":
                    return val
            raise BuildError("bl_info has no 'version'")
    raise BuildError("no top-level bl_info = {...}")


def read_bl_info_version(source: str) -> tuple[int, ...]:
    """``bl_info["version"]`` of an ``__init__.py`` read the way Blender reads it (ast)."""
    value = ast.literal_eval(_bl_info_version_node(ast.parse(source)))
    return tuple(value)


def stamp_bl_info_version(source: str, version: tuple[int, int, int]) -> str:
    """``source`` with only the literal of ``bl_info["version"]`` replaced by ``version``."""
    node = _bl_info_version_node(ast.parse(source))
    assert node.end_lineno is not None and node.end_col_offset is not None
    lines = source.splitlines(keepends=True)
    # ast offsets are in UTF-8 bytes within a line
    start = sum(len(line.encode()) for line in lines[:node.lineno - 1]) + node.col_offset
    end = sum(len(line.encode()) for line in lines[:node.end_lineno - 1]) + node.end_col_offset
    raw = source.encode()
    out = (raw[:start] + repr(tuple(version)).encode() + raw[end:]).decode()
    if read_bl_info_version(out) != tuple(version):
        raise BuildError("stamping bl_info['version'] failed")
    return out


# --- staging ----------------------------------------------------------------------------


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in EXCLUDED_DIRS or n.endswith(EXCLUDED_SUFFIXES)}


def stage_package(dest: Path, version: str) -> Path:
    """Copy the package to ``dest`` (excluding caches, tests, scripts) and stamp bl_info."""
    shutil.copytree(REPO / PACKAGE, dest, ignore=_ignore)
    init = dest / "__init__.py"
    init.write_text(stamp_bl_info_version(init.read_text(encoding="utf-8"),
                                          version_tuple(version)), encoding="utf-8")
    return dest


# --- blender_ext.py ---------------------------------------------------------------------


def _venv_root() -> Path:
    env = os.environ.get("AVATAR_IMPORTER_VENVS")
    return Path(env) if env else Path.home() / ".cache" / "avatar_importer" / "venvs"


def _version_key(path: Path) -> tuple[int, ...]:
    venv = next((p.name for p in path.parents if p.name.startswith("bpy-")), "bpy-0")
    return tuple(int(x) for x in re.findall(r"\d+", venv))


def find_blender_exts() -> list[Path]:
    """Every blender_ext.py in the bpy venvs, newest bpy first."""
    found = [p for p in _venv_root().glob(f"bpy-*/{BLENDER_EXT_GLOB}") if p.is_file()]
    return sorted(found, key=_version_key, reverse=True)


def ensure_blender_ext() -> Path:
    say(f"no bpy venv with blender_ext.py: creating bpy-{FALLBACK_BPY} (scripts/lib/env.sh)")
    script = f'source "{REPO}/scripts/lib/env.sh" && ensure_bpy_venv {FALLBACK_BPY}'
    subprocess.run(["bash", "-c", script], check=True, stdin=subprocess.DEVNULL)
    found = find_blender_exts()
    if not found:
        raise BuildError(f"bpy {FALLBACK_BPY} installed but no blender_ext.py found")
    return found[0]


def run_blender_ext(tool: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise BuildError(f"blender_ext.py {args[0]} failed (exit {proc.returncode}, "
                         f"{tool}):\n{output}")
    return output


# --- the two zips -----------------------------------------------------------------------


def build_extension(out_dir: Path, version: str, tools: list[Path]) -> Path:
    target = out_dir / f"{PACKAGE}-{version}.zip"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="avatar-build-") as tmp:
        stage = stage_package(Path(tmp) / PACKAGE, version)
        shutil.copy2(MANIFEST, stage / "blender_manifest.toml")
        # the default output name is "{id}-{version}.zip", i.e. ``target``
        out = run_blender_ext(tools[0], "build", "--source-dir", str(stage),
                              "--output-dir", str(out_dir))
        say(f"blender_ext build ({_tool_name(tools[0])}): {out.splitlines()[-1] if out else ''}")
    if not target.is_file():
        raise BuildError(f"blender_ext.py build produced no {target}")
    for tool in tools:
        out = run_blender_ext(tool, "validate", str(target))
        say(f"blender_ext validate ({_tool_name(tool)}): {out.splitlines()[-1] if out else 'ok'}")
    check_extension_zip(target)
    return target


def check_extension_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    bad = [n for n in names if any(part in EXCLUDED_DIRS for part in n.split("/"))
           or n.endswith(EXCLUDED_SUFFIXES)]
    if bad:
        raise BuildError(f"{path.name} contains excluded files: {bad[:5]}")
    for needed in ("blender_manifest.toml", "__init__.py"):
        if needed not in names:
            raise BuildError(f"{path.name} has no top-level {needed}")


def build_legacy(out_dir: Path, version: str) -> Path:
    target = out_dir / f"{PACKAGE}-{version}-legacy.zip"
    with tempfile.TemporaryDirectory(prefix="avatar-build-") as tmp:
        stage = stage_package(Path(tmp) / PACKAGE, version)
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        part = target.with_name(target.name + ".part")
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                info = zipfile.ZipInfo(f"{PACKAGE}/{f.relative_to(stage).as_posix()}", ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, f.read_bytes())
        os.replace(part, target)
    with zipfile.ZipFile(target) as zf:
        init = zf.read(f"{PACKAGE}/__init__.py").decode()
    if read_bl_info_version(init) != version_tuple(version):
        raise BuildError("legacy zip: bl_info version does not match the manifest")
    return target


def _tool_name(tool: Path) -> str:
    venv = next((p.name for p in tool.parents if p.name.startswith("bpy-")), None)
    return venv or str(tool)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output-dir", type=Path, default=REPO / "dist")
    p.add_argument("--blender-ext", type=Path, help="Blender's blender_ext.py to build and "
                   "validate with (default: found in the bpy venvs)")
    p.add_argument("--only", choices=("extension", "legacy"), help="build one zip only")
    args = p.parse_args(argv)
    try:
        version = manifest_version()
        version_tuple(version)
        out_dir = args.output_dir.resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        say(f"{PACKAGE} {version} -> {out_dir}")
        built: list[Path] = []
        if args.only in (None, "extension"):
            explicit = args.blender_ext or (Path(os.environ["AVATAR_BLENDER_EXT"])
                                            if os.environ.get("AVATAR_BLENDER_EXT") else None)
            if explicit is not None:
                if not explicit.is_file():
                    raise BuildError(f"--blender-ext {explicit}: no such file")
                tools = [explicit]
            else:
                tools = find_blender_exts() or [ensure_blender_ext()]
            built.append(build_extension(out_dir, version, tools))
        if args.only in (None, "legacy"):
            built.append(build_legacy(out_dir, version))
    except (BuildError, subprocess.CalledProcessError, OSError) as exc:
        print(f"build: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    for path in built:
        say(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
