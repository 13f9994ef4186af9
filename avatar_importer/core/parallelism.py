"""How many job threads a batch gets: bounds stated once, used by the batch script and the
benchmark.

Each job thread spends most of its life waiting for the service (upload, then polling
every few seconds until the avatar is computed), so a batch runs one thread per avatar:
a crowd computes at once instead of in waves of the engine's default 16. The bound keeps
a huge batch from making hundreds of threads: past it, jobs queue in the engine's pool.
"""

from __future__ import annotations

#: the engine's default job threads (EngineOptions.max_parallel)
MIN_BATCH_WORKERS = 16
#: never more job threads than this in one batch
MAX_BATCH_WORKERS = 128


def batch_workers(jobs: int) -> int:
    """Job threads for a batch of ``jobs`` avatars."""
    return min(max(MIN_BATCH_WORKERS, jobs), MAX_BATCH_WORKERS)
