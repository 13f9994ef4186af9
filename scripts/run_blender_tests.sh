#!/usr/bin/env bash
# Run the tests that need real Blender, for ONE Blender version per process.
#
#   scripts/run_blender_tests.sh 4.2.23 [pytest args...]
#       pytest tests/blender in the PyPI bpy==4.2.23 venv (created on first use, ~1 GB).
#       Likewise 4.5.15, 5.0.1 or any other bpy wheel version.
#   scripts/run_blender_tests.sh 3.4
#       Debian's Blender 3.4 in background mode:
#       blender -b --factory-startup --python-exit-code 1 -P tests/blender34/run.py
#       (apt-installs blender if missing). Exits 77 (= skipped) if that file does not exist.
#
# Every run gets a fresh, private BLENDER_USER_RESOURCES, cwd = repo root, and the repo
# root on PYTHONPATH. pytest's exit code 5 (no tests collected) is a failure here.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/env.sh
source "$REPO/scripts/lib/env.sh"
cd "$REPO"

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BPY_VERSION|3.4 [pytest args...]" >&2
    exit 2
fi
VERSION=$1
shift
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

if [[ "$VERSION" == "3.4" ]]; then
    RUN_PY=tests/blender34/run.py
    if [[ ! -f "$RUN_PY" ]]; then
        echo "blender-3.4: $RUN_PY does not exist yet: suite skipped"
        exit 77
    fi
    ensure_debian_blender
    echo "blender-3.4: $(blender --version 2>/dev/null | head -n1) -b -P $RUN_PY"
    rc=0
    with_blender_user_dir blender -b --factory-startup --python-exit-code 1 -P "$RUN_PY" -- "$@" \
        || rc=$?
    echo "blender-3.4: exit code $rc"
    exit "$rc"
fi

if [[ ! -d tests/blender ]]; then
    echo "bpy-$VERSION: tests/blender does not exist: FAILED (no tests)"
    exit 5
fi
ensure_bpy_venv "$VERSION"
PY="$(bpy_venv_dir "$VERSION")/bin/python"
echo "bpy-$VERSION: $PY -m pytest -q tests/blender $*"
rc=0
with_blender_user_dir "$PY" -m pytest -q tests/blender "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "bpy-$VERSION: pytest collected NO tests in tests/blender: counted as FAILED"
fi
exit "$rc"
