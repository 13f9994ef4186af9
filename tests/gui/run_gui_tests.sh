#!/usr/bin/env bash
# Run the GUI tests: Debian's Blender 3.4 in a real window under Xvfb.
#
#   tests/gui/run_gui_tests.sh [tests/gui/test_x.py ...]     (default: every tests/gui/test_*.py)
#
# Each test file runs in its own process as
#   xvfb-run -a -s "-screen 0 1280x800x24" \
#       blender --factory-startup --python-exit-code 1 START.blend -P tests/gui/test_x.py
# with a 300 s timeout (AVATAR_GUI_TIMEOUT), a fresh BLENDER_USER_RESOURCES and cwd = repo.
# START.blend is an empty factory scene saved once per run: loading a file from the command
# line skips the splash screen.
#
# Contract for a test script:
#   * the process's exit code is the verdict. An exception in the -P script itself gives 1;
#     from a timer or modal operator (where exceptions do not reach the exit code) quit with
#     os._exit(0) / os._exit(1) yourself. Hitting the timeout is a failure.
#   * environment: AVATAR_IMPORTER_REPO (repo root, also on PYTHONPATH),
#     AVATAR_IMPORTER_ARTIFACTS (= artifacts/gui/<test name>/, created, for screenshots),
#     AVATAR_IMPORTER_GUI_START_BLEND, DISPLAY (set by xvfb-run).
#   * each test's full output is kept in artifacts/gui/<test name>.log; it is printed
#     (last 80 lines) only when the test fails.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/env.sh
source "$REPO/scripts/lib/env.sh"
cd "$REPO"

TIMEOUT=${AVATAR_GUI_TIMEOUT:-300}
ART_ROOT="$REPO/artifacts/gui"

if [[ $# -gt 0 ]]; then
    tests=("$@")
else
    shopt -s nullglob
    tests=(tests/gui/test_*.py)
    shopt -u nullglob
fi
if [[ ${#tests[@]} -eq 0 ]]; then
    echo "gui: there are no GUI tests (tests/gui/test_*.py) yet: nothing to run"
    exit 0
fi

ensure_debian_blender
mkdir -p "$ART_ROOT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/avatar-gui.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

START_BLEND="$WORK/start.blend"
BLENDER_USER_RESOURCES="$WORK/user-start" blender -b --factory-startup --python-exit-code 1 \
    --python-expr 'import bpy, sys; bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])' \
    -- "$START_BLEND" >"$WORK/start.log" 2>&1 || { cat "$WORK/start.log"; exit 1; }

export AVATAR_IMPORTER_REPO="$REPO"
export AVATAR_IMPORTER_GUI_START_BLEND="$START_BLEND"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

echo "gui: ${#tests[@]} test file(s), $(blender --version 2>/dev/null | head -n1), timeout ${TIMEOUT}s each"
passed=0
failed=0
failures=()
for t in "${tests[@]}"; do
    name=$(basename "$t" .py)
    log="$ART_ROOT/$name.log"
    export AVATAR_IMPORTER_ARTIFACTS="$ART_ROOT/$name"
    rm -rf "$AVATAR_IMPORTER_ARTIFACTS"
    mkdir -p "$AVATAR_IMPORTER_ARTIFACTS"
    user_dir="$WORK/user-$name"
    mkdir -p "$user_dir"
    start=$(date +%s)
    rc=0
    BLENDER_USER_RESOURCES="$user_dir" timeout -k 15 "$TIMEOUT" \
        xvfb-run -a -s "-screen 0 1280x800x24" \
        blender --factory-startup --python-exit-code 1 "$START_BLEND" -P "$t" \
        </dev/null >"$log" 2>&1 || rc=$?
    secs=$(($(date +%s) - start))
    if [[ $rc -eq 0 ]]; then
        passed=$((passed + 1))
        echo "gui: PASS $t (${secs}s)"
    else
        failed=$((failed + 1))
        failures+=("$t")
        why="exit code $rc"
        [[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${TIMEOUT}s"
        echo "gui: FAIL $t ($why, ${secs}s); last lines of $log:"
        tail -n 80 "$log" | sed 's/^/    /'
    fi
done
[[ $failed -eq 0 ]] || echo "gui: failed: ${failures[*]}"
echo "gui: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
