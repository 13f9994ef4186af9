#!/usr/bin/env bash
# Shared bootstrap functions: source this file, then call the ensure_* functions.
#
#   source scripts/lib/env.sh
#   ensure_core_venv            # -> "$(core_venv_dir)/bin/python": ruff, mypy, pytest, fake-bpy-module
#   ensure_bpy_venv 4.2.23      # -> "$(bpy_venv_dir 4.2.23)/bin/python": real bpy wheel + pytest
#   ensure_debian_blender       # -> /usr/bin/blender 3.4, xvfb-run, xdotool (apt)
#   ensure_openjd_venv          # -> "$(openjd_venv_dir)/bin/openjd": openjd-cli (farm templates)
#
# Every function is idempotent and cheap when everything is already there (no pip or apt
# call: a stamp file in each venv records the requirement set it was built with). Safe
# under `set -euo pipefail`. Logs go to stderr. Venvs live outside the repo
# (AVATAR_IMPORTER_VENVS, default ~/.cache/avatar_importer/venvs) so that a fresh clone
# reuses them; on a fresh machine they are created. A lock file per venv serialises
# concurrent runs.

# Pinned tools for the core venv (versions checked with `pip index versions`).
AVATAR_CORE_REQUIREMENTS=(
    "pytest==9.2.0"
    "pytest-timeout==2.4.0"
    "requests==2.34.2"
    "ruff==0.17.5"
    "mypy==2.4.1"
    "fake-bpy-module-4.2==20260730"
    "types-requests==2.33.0.20261030"
)

# What a bpy venv holds besides bpy==VERSION (same as the hand-made venvs).
AVATAR_BPY_EXTRA_REQUIREMENTS=(pytest requests)

# Debian packages for Blender 3.4 (headless and GUI under Xvfb).
AVATAR_APT_PACKAGES=(blender xvfb xauth xdotool python3-requests python3-numpy)

_env_log() { printf '[env] %s\n' "$*" >&2; }
_env_die() { printf '[env] ERROR: %s\n' "$*" >&2; return 1; }

_home() { printf '%s\n' "${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"; }
venv_root() { printf '%s\n' "${AVATAR_IMPORTER_VENVS:-$(_home)/.cache/avatar_importer/venvs}"; }
core_venv_dir() { printf '%s/core\n' "$(venv_root)"; }
bpy_venv_dir() { printf '%s/bpy-%s\n' "$(venv_root)" "$1"; }

# Print the path of a CPython 3.11 interpreter that can create venvs, or fail.
find_python311() {
    local cand
    local -a cands=()
    command -v python3.11 >/dev/null 2>&1 && cands+=("$(command -v python3.11)")
    command -v python3 >/dev/null 2>&1 && cands+=("$(command -v python3)")
    for cand in "${PYENV_ROOT:-$(_home)/.pyenv}"/versions/3.11*/bin/python3.11 /usr/bin/python3.11 \
        /usr/local/bin/python3.11; do
        [[ -x "$cand" ]] && cands+=("$cand")
    done
    for cand in "${cands[@]}"; do
        # print the real interpreter behind shims (pyenv) so venvs do not depend on them
        if "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 11))' \
            >/dev/null 2>&1; then
            "$cand" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    _env_die "no usable Python 3.11 found (need python3.11, or python3 being 3.11, with venv and ensurepip)"
}

# _with_lock NAME CMD...: run CMD while holding an exclusive lock on $(venv_root)/.NAME.lock
_with_lock() {
    local name=$1
    shift
    local root
    root=$(venv_root)
    mkdir -p "$root"
    (
        flock -w 1800 9 || { _env_die "timed out waiting for lock $root/.$name.lock"; exit 1; }
        "$@"
    ) 9>"$root/.$name.lock"
}

_pip() { # _pip VENV_DIR ARGS...
    local dir=$1
    shift
    PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/python" -m pip "$@"
}

_make_venv() { # _make_venv DIR
    local dir=$1 py
    py=$(find_python311) || return 1
    _env_log "creating venv $dir with $py"
    rm -rf "$dir"
    "$py" -m venv "$dir" || { _env_die "could not create venv $dir"; return 1; }
}

# --- core venv ---------------------------------------------------------------------------

_core_stamp_text() {
    printf 'python=3.11\n'
    printf '%s\n' "${AVATAR_CORE_REQUIREMENTS[@]}"
}

_ensure_core_venv_locked() {
    local dir want
    dir=$(core_venv_dir)
    want=$(_core_stamp_text)
    if [[ -x "$dir/bin/python" ]] && [[ -f "$dir/.avatar-stamp" ]] \
        && [[ "$(cat "$dir/.avatar-stamp")" == "$want" ]]; then
        return 0
    fi
    if ! "$dir/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
        >/dev/null 2>&1; then
        _make_venv "$dir" || return 1
    fi
    _env_log "installing core tools into $dir: ${AVATAR_CORE_REQUIREMENTS[*]}"
    rm -f "$dir/.avatar-stamp"
    _pip "$dir" install -qq "${AVATAR_CORE_REQUIREMENTS[@]}" >&2 \
        || { _env_die "pip install into $dir failed"; return 1; }
    "$dir/bin/python" -c 'import pytest, pytest_timeout, requests, mypy, ruff' >/dev/null \
        || { _env_die "core venv $dir: imports fail after install"; return 1; }
    printf '%s\n' "$want" >"$dir/.avatar-stamp"
    _env_log "core venv ready"
}

ensure_core_venv() { _with_lock core _ensure_core_venv_locked; }

# --- bpy venvs ---------------------------------------------------------------------------

_bpy_stamp_text() {
    printf 'python=3.11\nbpy==%s\n' "$1"
    printf '%s\n' "${AVATAR_BPY_EXTRA_REQUIREMENTS[@]}"
}

_bpy_venv_works() { # _bpy_venv_works DIR VERSION: import check + exact bpy version
    "$1/bin/python" - "$2" >/dev/null 2>&1 <<'EOF'
import sys
from importlib.metadata import version
import bpy, pytest, requests  # noqa: F401
sys.exit(version("bpy") != sys.argv[1])
EOF
}

_ensure_bpy_venv_locked() {
    local v=$1 dir want
    dir=$(bpy_venv_dir "$v")
    want=$(_bpy_stamp_text "$v")
    if [[ -x "$dir/bin/python" ]] && [[ -f "$dir/.avatar-stamp" ]] \
        && [[ -d "$dir/lib/python3.11/site-packages/bpy" ]] \
        && [[ "$(cat "$dir/.avatar-stamp")" == "$want" ]]; then
        return 0
    fi
    if [[ -d "$dir" ]]; then
        # Made by hand (no stamp) or with another requirement set: keep it if it works.
        if _bpy_venv_works "$dir" "$v"; then
            _env_log "adopting existing venv $dir"
            printf '%s\n' "$want" >"$dir/.avatar-stamp"
            return 0
        fi
        _env_log "venv $dir is broken or incomplete: recreating it"
    fi
    _make_venv "$dir" || return 1
    _env_log "installing bpy==$v ${AVATAR_BPY_EXTRA_REQUIREMENTS[*]} into $dir (~1 GB)"
    _pip "$dir" install -qq "bpy==$v" "${AVATAR_BPY_EXTRA_REQUIREMENTS[@]}" >&2 \
        || { _env_die "pip install bpy==$v into $dir failed"; return 1; }
    if ! _bpy_venv_works "$dir" "$v"; then
        _env_die "bpy $v installed into $dir but 'import bpy, pytest, requests' fails"
        return 1
    fi
    printf '%s\n' "$want" >"$dir/.avatar-stamp"
    _env_log "bpy $v venv ready"
}

ensure_bpy_venv() {
    [[ $# -eq 1 && -n "$1" ]] || { _env_die "usage: ensure_bpy_venv VERSION"; return 1; }
    _with_lock "bpy-$1" _ensure_bpy_venv_locked "$1"
}

# --- Debian Blender 3.4 ------------------------------------------------------------------

_debian_blender_ok() {
    local p
    local out
    out=$(blender --version 2>/dev/null) || return 1
    grep -q '^Blender 3\.4' <<<"$out" || return 1
    command -v xvfb-run >/dev/null 2>&1 || return 1
    command -v xdotool >/dev/null 2>&1 || return 1
    command -v xauth >/dev/null 2>&1 || return 1
    for p in python3-requests python3-numpy; do
        [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || return 1
    done
}

ensure_debian_blender() {
    _debian_blender_ok && return 0
    local -a sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { _env_die "need root or sudo to apt-get install ${AVATAR_APT_PACKAGES[*]}"; return 1; }
        sudo=(sudo -n)
    fi
    command -v apt-get >/dev/null 2>&1 || { _env_die "apt-get not found: cannot install Blender 3.4"; return 1; }
    _env_log "installing ${AVATAR_APT_PACKAGES[*]} with apt-get (waits for the dpkg lock)"
    local try
    # `apt-get update` has no lock timeout of its own for the lists lock: retry a while.
    for try in $(seq 1 12); do
        if "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 -qq update >&2; then
            break
        fi
        [[ $try -eq 12 ]] && { _env_die "apt-get update kept failing"; return 1; }
        sleep 10
    done
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1200 -y -q \
        install "${AVATAR_APT_PACKAGES[@]}" >&2 || { _env_die "apt-get install failed"; return 1; }
    _debian_blender_ok || { _env_die "apt install finished but Blender 3.4 / xvfb / xdotool still missing"; return 1; }
    _env_log "Debian Blender ready: $(blender --version 2>/dev/null | head -n1)"
}

# Run "$@" with a fresh, private Blender user dir; removed afterwards. Returns CMD's status.
with_blender_user_dir() {
    local tmp rc=0
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/avatar-bl-user.XXXXXX")
    BLENDER_USER_RESOURCES="$tmp" "$@" || rc=$?
    rm -rf "$tmp"
    return "$rc"
}

# --- Open Job Description CLI (farm template checks) -------------------------------------
#   ensure_openjd_venv          # -> "$(openjd_venv_dir)/bin/openjd"

AVATAR_OPENJD_REQUIREMENTS=("openjd-cli==0.8.0")

openjd_venv_dir() { printf '%s/openjd\n' "$(venv_root)"; }

_ensure_openjd_venv_locked() {
    local dir want
    dir=$(openjd_venv_dir)
    want=$(printf 'python=3.11\n%s\n' "${AVATAR_OPENJD_REQUIREMENTS[@]}")
    if [[ -x "$dir/bin/openjd" ]] && [[ -f "$dir/.avatar-stamp" ]] \
        && [[ "$(cat "$dir/.avatar-stamp")" == "$want" ]]; then
        return 0
    fi
    _make_venv "$dir" || return 1
    _env_log "installing ${AVATAR_OPENJD_REQUIREMENTS[*]} into $dir"
    _pip "$dir" install -qq "${AVATAR_OPENJD_REQUIREMENTS[@]}" >&2 \
        || { _env_die "pip install into $dir failed"; return 1; }
    "$dir/bin/openjd" --version >/dev/null || { _env_die "openjd does not run in $dir"; return 1; }
    printf '%s\n' "$want" >"$dir/.avatar-stamp"
    _env_log "openjd venv ready"
}

ensure_openjd_venv() { _with_lock openjd _ensure_openjd_venv_locked; }
