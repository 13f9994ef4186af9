#!/usr/bin/env bash
# Demo without credentials: the sandbox on loopback, one generated photo, one avatar.
# Writes demo-output/avatar.blend, demo-output/report.json and demo-output/avatar.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
BPY_VERSION="${AVATAR_DEMO_BPY:-4.2.23}"
ensure_bpy_venv "$BPY_VERSION"
PY="$(bpy_venv_dir "$BPY_VERSION")/bin/python"
OUT="${1:-demo-output}"
mkdir -p "$OUT"
"$PY" - "$OUT/photo.png" <<'PYEOF'
import sys
sys.path.insert(0, ".")
from avatar_importer.sandbox.assets import build_thumbnail
open(sys.argv[1], "wb").write(build_thumbnail("demo face", 256))
PYEOF
user_dir="$(mktemp -d)"
trap 'rm -rf "$user_dir"' EXIT
BLENDER_USER_RESOURCES="$user_dir" "$PY" scripts/batch_import.py \
    --service sandbox --sandbox-compute-seconds 2 --photo "$OUT/photo.png" --name DemoAvatar \
    --cache-dir "$OUT/cache" --out "$OUT/avatar.blend" --report "$OUT/report.json" \
    --render "$OUT/avatar.png"
echo "demo: wrote $OUT/avatar.blend, $OUT/report.json, $OUT/avatar.png"
