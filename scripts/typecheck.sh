#!/usr/bin/env bash
# mypy over the add-on package, in the core venv (pinned mypy + fake-bpy-module-4.2 stubs).
#
#   scripts/typecheck.sh [extra mypy args...]
#
# Configuration: [tool.mypy] in pyproject.toml. avatar_importer.core and
# avatar_importer.sandbox are checked strictly (every def typed, no implicit Any
# generics, ...); avatar_importer.blender is checked against the fake-bpy-module stubs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/env.sh
source "$REPO/scripts/lib/env.sh"
cd "$REPO"
ensure_core_venv
PY="$(core_venv_dir)/bin/python"

# Modules that currently FAIL type checking and whose authors must fix them. Each entry
# is a module pattern (as in [[tool.mypy.overrides]]: "pkg.mod" or "pkg.sub.*") and gets
# `ignore_errors = true` for this run only. Keep a comment with the reason and date; the
# list is meant to be empty.
EXCLUDED_MODULES=(
)

TARGETS=(avatar_importer)
args=()
tmpcfg=""
cleanup() { [[ -n "$tmpcfg" ]] && rm -f "$tmpcfg"; return 0; }
trap cleanup EXIT

if [[ ${#EXCLUDED_MODULES[@]} -gt 0 ]]; then
    echo "typecheck: NOT checking (errors ignored): ${EXCLUDED_MODULES[*]}"
    tmpcfg=$(mktemp "${TMPDIR:-/tmp}/avatar-mypy.XXXXXX.ini")
    # pyproject's [tool.mypy] (and its overrides) as an ini file, plus ignore_errors for the
    # excluded modules.
    "$PY" - "$tmpcfg" "${EXCLUDED_MODULES[@]}" <<'EOF'
import sys
import tomllib

out, excluded = sys.argv[1], sys.argv[2:]
with open("pyproject.toml", "rb") as f:
    cfg = dict(tomllib.load(f).get("tool", {}).get("mypy", {}))


def fmt(v):
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


sections: dict[str, dict] = {}
for ov in cfg.pop("overrides", []):
    ov = dict(ov)
    mods = ov.pop("module")
    for mod in [mods] if isinstance(mods, str) else mods:
        sections.setdefault(mod, {}).update(ov)
for mod in excluded:
    sections.setdefault(mod, {})["ignore_errors"] = True
lines = ["[mypy]"] + [f"{k} = {fmt(v)}" for k, v in cfg.items()]
for mod, opts in sections.items():
    lines.append(f"[mypy-{mod}]")
    lines += [f"{k} = {fmt(v)}" for k, v in opts.items()]
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
    args+=(--config-file "$tmpcfg")
fi

echo "typecheck: mypy ${TARGETS[*]} ($("$PY" -m mypy --version))"
# fake-bpy-module's Literal types make some messages kilobytes long: cut lines at 400 chars
rc=0
"$PY" -m mypy "${args[@]}" "$@" "${TARGETS[@]}" 2>&1 \
    | awk '{ if (length($0) > 400) print substr($0, 1, 400) " ...[cut]"; else print }' \
    || rc=$?
exit "$rc"
