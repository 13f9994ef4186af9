#!/usr/bin/env bash
# The project's test command (also what CI runs through .ci/run).
#
#   ./scripts/test.sh                 all suites
#   ./scripts/test.sh --quick         lint typecheck core bpy-4.2.23
#   ./scripts/test.sh core bpy-4.2.23 only the named suites (in the order given)
#   ./scripts/test.sh --list          list the suites
#
# Suites (each runs in its own process; a failing suite does not stop the others):
#   lint         ruff check . (core venv)
#   typecheck    scripts/typecheck.sh (mypy, core venv)
#   core         pytest tests/core in the core venv: plain Python, no bpy
#   bpy-4.2.23   pytest tests/blender with the PyPI bpy wheel 4.2.23 (likewise 4.5.15, 5.0.1)
#   blender-3.4  Debian Blender 3.4 headless: tests/blender34/run.py, then every
#                tests/blender34/test_*.py as its own `blender -b` process with its own user
#                dir (skipped while there is none of them)
#   gui          tests/gui/run_gui_tests.sh: Blender 3.4 under Xvfb (skipped while no tests)
#
# Everything needed is installed on first use (scripts/lib/env.sh): venvs under
# ${AVATAR_IMPORTER_VENVS:-~/.cache/avatar_importer/venvs}, apt packages for Blender 3.4.
# Suites run two at a time (AVATAR_TEST_JOBS; the GUI suite alone, last), each one's output
# printed whole when it ends. Needs no stdin. Each suite has a time limit (AVATAR_SUITE_TIMEOUT overrides them all, in
# seconds). Exit status: 0 if every suite passed or was skipped. The last line is
# "N passed, M failed" (", K skipped" added when some were), counting suites.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BPY_VERSIONS=(4.2.23 4.5.15 5.0.1)
ALL_SUITES=(lint typecheck core)
for _v in "${BPY_VERSIONS[@]}"; do ALL_SUITES+=("bpy-$_v"); done
ALL_SUITES+=(blender-3.4 gui)
QUICK_SUITES=(lint typecheck core bpy-4.2.23)
SKIP_RC=77

suite_timeout() {
    if [[ -n "${AVATAR_SUITE_TIMEOUT:-}" ]]; then echo "$AVATAR_SUITE_TIMEOUT"; return; fi
    case $1 in
        lint) echo 300 ;;
        typecheck | core) echo 900 ;;
        bpy-*) echo 1500 ;;
        blender-3.4) echo 1500 ;;
        gui) echo 2400 ;;
        *) echo 900 ;;
    esac
}

# --- one suite (runs in a child process: ./scripts/test.sh --run-suite NAME) -------------
run_suite() {
    local suite=$1
    # shellcheck source=lib/env.sh
    source "$REPO/scripts/lib/env.sh"
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONDONTWRITEBYTECODE=1
    case $suite in
        lint)
            ensure_core_venv
            "$(core_venv_dir)/bin/ruff" check --output-format=concise .
            ;;
        typecheck)
            "$REPO/scripts/typecheck.sh"
            ;;
        core)
            ensure_core_venv
            local rc=0
            # a hanging test fails alone (with its stack) instead of eating the suite's limit
            "$(core_venv_dir)/bin/python" -m pytest -q --timeout="${AVATAR_TEST_TIMEOUT:-120}" \
                tests/core || rc=$?
            [[ $rc -eq 5 ]] && echo "core: pytest collected NO tests in tests/core: counted as FAILED"
            return "$rc"
            ;;
        bpy-*)
            "$REPO/scripts/run_blender_tests.sh" "${suite#bpy-}"
            ;;
        blender-3.4)
            local -a scripts=()
            local f rc=0 frc
            for f in tests/blender34/test_*.py; do
                if [[ -f $f ]]; then scripts+=("$f"); fi
            done
            if [[ ! -f tests/blender34/run.py && ${#scripts[@]} -eq 0 ]]; then
                echo "blender-3.4: no tests/blender34/run.py or test_*.py yet: SKIPPED"
                return "$SKIP_RC"
            fi
            if [[ -f tests/blender34/run.py ]]; then
                "$REPO/scripts/run_blender_tests.sh" 3.4 || rc=$?
            fi
            # standalone scripts (no pytest): each in its own Blender with a private user dir
            [[ ${#scripts[@]} -eq 0 ]] || ensure_debian_blender
            for f in "${scripts[@]+"${scripts[@]}"}"; do
                echo "blender-3.4: blender -b --factory-startup --python-exit-code 1 -P $f"
                frc=0
                with_blender_user_dir blender -b --factory-startup --python-exit-code 1 \
                    -P "$f" || frc=$?
                echo "blender-3.4: $f: exit code $frc"
                [[ $frc -eq 0 || $rc -ne 0 ]] || rc=1
            done
            return "$rc"
            ;;
        gui)
            if ! compgen -G 'tests/gui/test_*.py' >/dev/null; then
                echo "gui: no GUI tests (tests/gui/test_*.py) yet: SKIPPED"
                return "$SKIP_RC"
            fi
            "$REPO/tests/gui/run_gui_tests.sh"
            ;;
        *)
            echo "unknown suite: $suite" >&2
            return 2
            ;;
    esac
}

if [[ "${1:-}" == "--run-suite" ]]; then
    run_suite "$2"
    exit $?
fi

# --- arguments ---------------------------------------------------------------------------
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
selected=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) selected+=("${QUICK_SUITES[@]}") ;;
        --list) printf '%s\n' "${ALL_SUITES[@]}"; exit 0 ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
        *)
            known=0
            for s in "${ALL_SUITES[@]}"; do [[ $s == "$1" ]] && known=1; done
            # any other bpy wheel version is allowed too, e.g. bpy-4.4.3
            [[ $1 =~ ^bpy-[0-9]+\.[0-9]+\.[0-9]+$ ]] && known=1
            if [[ $known -eq 0 ]]; then
                echo "unknown suite: $1 (suites: ${ALL_SUITES[*]})" >&2
                exit 2
            fi
            selected+=("$1")
            ;;
    esac
    shift
done
[[ ${#selected[@]} -gt 0 ]] || selected=("${ALL_SUITES[@]}")
# drop duplicates, keep order
suites=()
for s in "${selected[@]}"; do
    dup=0
    for t in "${suites[@]+"${suites[@]}"}"; do [[ $s == "$t" ]] && dup=1; done
    [[ $dup -eq 1 ]] || suites+=("$s")
done

# --- run ---------------------------------------------------------------------------------
# Suites run AVATAR_TEST_JOBS at a time (default 2: this machine has 2 cores and the Blender
# suites spend much of their time waiting on the sandbox's clock); each suite's output is
# kept in a log and printed whole when it ends. Suites in ALONE (the GUI: it measures
# event-loop stalls against an idle baseline) run after the others, by themselves.
JOBS=${AVATAR_TEST_JOBS:-2}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "AVATAR_TEST_JOBS must be a positive number" >&2; exit 2; }
ALONE=(gui)
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/avatar-tests.XXXXXX")
declare -A pid_of=() start_of=() rc_of=() secs_of=()
on_signal() {
    local p
    for p in "${pid_of[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    echo "test.sh: interrupted" >&2
    exit 130
}
trap on_signal INT TERM

launch() { # launch SUITE: start it in the background, output to its log
    local s=$1 limit
    limit=$(suite_timeout "$s")
    start_of[$s]=$(date +%s%N)
    echo "===== [$s] started (limit ${limit}s) ====="
    timeout -k 30 "$limit" bash "${BASH_SOURCE[0]}" --run-suite "$s" </dev/null \
        >"$LOGDIR/$s.log" 2>&1 &
    pid_of[$s]=$!
}

reap() { # reap: wait for any running suite to end, print its log and result
    local s p rc done_suite=""
    while [[ -z $done_suite ]]; do
        for s in "${!pid_of[@]}"; do
            p=${pid_of[$s]}
            if ! kill -0 "$p" 2>/dev/null; then done_suite=$s; break; fi
        done
        [[ -n $done_suite ]] || sleep 0.5
    done
    s=$done_suite
    rc=0
    wait "${pid_of[$s]}" || rc=$?
    unset "pid_of[$s]"
    rc_of[$s]=$rc
    secs_of[$s]=$(awk -v a="${start_of[$s]}" -v b="$(date +%s%N)" \
        'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    echo
    echo "===== [$s] output ====="
    cat "$LOGDIR/$s.log"
    echo "===== [$s] $(result_text "$s" "$rc") in ${secs_of[$s]}s ====="
}

result_text() { # result_text SUITE RC
    case $2 in
        0) echo passed ;;
        "$SKIP_RC") echo skipped ;;
        124 | 137) echo "FAILED (timed out after $(suite_timeout "$1")s)" ;;
        5) echo "FAILED (no tests collected)" ;;
        *) echo "FAILED (exit $2)" ;;
    esac
}

total_start=$(date +%s%N)
echo "test.sh: suites: ${suites[*]} ($JOBS at a time)"
later=()
for s in "${suites[@]}"; do
    alone=0
    for a in "${ALONE[@]}"; do [[ $s == "$a" ]] && alone=1; done
    if [[ $alone -eq 1 ]]; then later+=("$s"); continue; fi
    while [[ ${#pid_of[@]} -ge $JOBS ]]; do reap; done
    launch "$s"
done
while [[ ${#pid_of[@]} -gt 0 ]]; do reap; done
for s in "${later[@]+"${later[@]}"}"; do
    launch "$s"
    reap
done

names=()
results=()
times=()
n_pass=0
n_fail=0
n_skip=0
for s in "${suites[@]}"; do
    rc=${rc_of[$s]}
    res=$(result_text "$s" "$rc")
    case $rc in
        0) n_pass=$((n_pass + 1)) ;;
        "$SKIP_RC") n_skip=$((n_skip + 1)) ;;
        *) n_fail=$((n_fail + 1)) ;;
    esac
    names+=("$s")
    results+=("$res")
    times+=("${secs_of[$s]}")
done
rm -rf "$LOGDIR"
total=$(awk -v a="$total_start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')

echo
echo "Summary"
printf '%-14s | %-36s | %8s\n' suite result seconds
printf '%-14s-+-%-36s-+-%8s\n' -------------- ------------------------------------ --------
for i in "${!names[@]}"; do
    printf '%-14s | %-36s | %8s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
done
printf '%-14s | %-36s | %8s\n' total "" "$total"
echo
line="$n_pass passed, $n_fail failed"
[[ $n_skip -eq 0 ]] || line+=", $n_skip skipped"
echo "$line"
[[ $n_fail -eq 0 ]]
