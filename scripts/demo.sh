#!/usr/bin/env bash
# Demo without credentials: the sandbox on loopback, one generated photo, one avatar.
# Writes demo-output/avatar.blend, demo-output/report.json and demo-output/avatar.png, and
# the full log of the run (progress, Blender's and Cycles' own lines) to demo-output/demo.log;
# the terminal gets a short summary: what was made, where, how long.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
BPY_VERSION="${AVATAR_DEMO_BPY:-4.2.23}"
ensure_bpy_venv "$BPY_VERSION"
PY="$(bpy_venv_dir "$BPY_VERSION")/bin/python"
OUT="${1:-demo-output}"
LOG="$OUT/demo.log"
mkdir -p "$OUT"
rm -f "$OUT/report.json"
"$PY" - "$OUT/photo.png" <<'PYEOF'
import sys
sys.path.insert(0, ".")
from avatar_importer.sandbox.assets import build_thumbnail
open(sys.argv[1], "wb").write(build_thumbnail("demo face", 256))
PYEOF
user_dir="$(mktemp -d)"
trap 'rm -rf "$user_dir"' EXIT
echo "demo: creating an avatar with the local sandbox and Blender $BPY_VERSION (log: $LOG) ..."
started=$SECONDS
status=0
BLENDER_USER_RESOURCES="$user_dir" "$PY" scripts/batch_import.py \
    --service sandbox --sandbox-compute-seconds 2 --photo "$OUT/photo.png" --name DemoAvatar \
    --cache-dir "$OUT/cache" --out "$OUT/avatar.blend" --report "$OUT/report.json" \
    --render "$OUT/avatar.png" >"$LOG" 2>&1 || status=$?
"$PY" - "$OUT" "$status" "$((SECONDS - started))" <<'PYEOF'
import json, sys
from pathlib import Path
out, status, seconds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
log = out / "demo.log"
report = out / "report.json"
body = json.loads(report.read_text()) if report.is_file() else {}
for avatar in body.get("avatars", []):
    images = avatar.get("images", [])
    resolved = sum(1 for i in images if i.get("resolved"))
    stages = avatar.get("seconds_per_stage", {})
    print(f"demo: {avatar['name']}: {avatar['status']}"
          + (f" ({avatar['error']})" if avatar.get("error") else "")
          + f"; {len(avatar.get('objects', []))} objects, {avatar.get('bone_count') or 0} bones,"
          f" {resolved}/{len(images)} textures; computed in"
          f" {stages.get('computing', 0):.0f} s, imported in {stages.get('importing', 0):.1f} s")
    for warning in avatar.get("warnings", []):
        print(f"demo:   warning: {warning}")
made = [f"{out / name}" for name in ("avatar.blend", "report.json", "avatar.png")
        if (out / name).is_file()]
if made:
    print("demo: wrote " + ", ".join(made))
if body.get("render_error"):
    print(f"demo: the preview was not rendered: {body['render_error']}")
if status != 0:
    said = [ln for ln in log.read_text(errors="replace").splitlines()
            if "error" in ln.lower()][-5:]
    for line in said or log.read_text(errors="replace").splitlines()[-5:]:
        print(f"demo: {line}", file=sys.stderr)
    print(f"demo: FAILED (exit {status}) after {seconds} s; full log: {log}", file=sys.stderr)
else:
    print(f"demo: done in {seconds} s; full log: {log}")
PYEOF
exit "$status"
