"""The sandbox in a process of its own, for the memory figure (the sandbox keeps generated
archives in memory: 200 MB of padding must not count against the add-on).

    python scripts/bench_lib/sandbox_proc.py '{"extra_archive_bytes": 200000000, ...}'

Prints one JSON line ``{"base_url": ...}`` once it is listening, after generating the
archive of the default export parameters (so the first download does not wait for it),
and stops when its stdin is closed. ``"_tuned": true`` applies the benchmark's sandbox
what-if (see ``figures.tune_sandbox``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core.params import default_export_parameters  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig, export_choice  # noqa: E402


def main(argv: list[str]) -> int:
    options = json.loads(argv[0]) if argv else {}
    if options.pop("_tuned", False):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench_lib.figures import tune_sandbox
        tune_sandbox(True)
    config = SandboxConfig(**options)
    sandbox = Sandbox(config).start()
    try:
        warm = getattr(sandbox, "_archive", None)  # private: skipped if it ever goes away
        if warm is not None:
            warm(export_choice("female", default_export_parameters()))
        print(json.dumps({"base_url": sandbox.base_url}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
