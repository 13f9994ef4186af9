"""How many job threads an engine may run: the bound stated once, used by the engine's
defaults (panel, batch, manifest) and the benchmark.

Each job thread spends most of its life waiting for the service (upload, then polling
every few seconds until the avatar is computed), so a crowd computes at once only with one
thread per waiting avatar. ``concurrent.futures.ThreadPoolExecutor`` starts a thread only
when a job is queued and no thread is idle, so the bound costs nothing for one avatar; it
keeps a huge batch from making hundreds of threads: past it, jobs queue in the engine's
pool and start as others finish (measured: 100 avatars at once, 219 threads in the whole
process counting the sandbox's, +5 MB resident; bench figure 8).
"""

from __future__ import annotations

#: never more job threads than this in one engine (EngineOptions.max_parallel)
MAX_JOB_THREADS = 128
