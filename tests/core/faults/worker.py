"""A plain-Python process for the fault matrix's multi-process rows (no bpy).

    python worker.py download URL DEST            stream URL to DEST (Transport.download)
    python worker.py job BASE_URL CACHE PHOTO     one avatar through the job engine

Prints one JSON line with the outcome; exit code 0 when it succeeded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from avatar_importer.core.avatarsdk import AvatarSdkClient  # noqa: E402
from avatar_importer.core.cache import Cache  # noqa: E402
from avatar_importer.core.engine import EngineOptions, JobEngine  # noqa: E402
from avatar_importer.core.metaperson import MetaPersonService  # noqa: E402
from avatar_importer.core.params import default_export_parameters, default_parameters  # noqa: E402
from avatar_importer.core.stages import JobSpec, Stage  # noqa: E402
from avatar_importer.core.transport import RetryPolicy, Transport  # noqa: E402


def main(argv: list[str]) -> int:
    if argv[0] == "download":
        url, dest = argv[1], Path(argv[2])
        base = url.split("/static_resources/")[0] + "/"
        size = Transport(base).download(url, dest)
        print(json.dumps({"bytes": size}), flush=True)
        return 0
    base_url, cache_dir, photo = argv[1], Path(argv[2]), Path(argv[3])
    client = AvatarSdkClient(base_url=base_url, client_id="sandbox", client_secret="sandbox",
                             retry=RetryPolicy(base=0.05, cap=0.2), timeout=(2.0, 10.0))
    engine = JobEngine(MetaPersonService(client, name="sandbox"), Cache(cache_dir),
                       EngineOptions(poll_interval=0.1))
    job = engine.submit(JobSpec(photo=photo, name=photo.stem, parameters=default_parameters(),
                                export_parameters=default_export_parameters()))
    engine.run_until_done(timeout=60)
    engine.shutdown()
    print(json.dumps({"stage": job.stage.value, "error": job.error,
                      "fetched": job.static_fetched, "reused": job.static_reused}), flush=True)
    return 0 if job.stage == Stage.DONE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
