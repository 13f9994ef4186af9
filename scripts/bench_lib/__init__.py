"""Helpers of ``scripts/bench.py`` (benchmarks against the loopback sandbox; not tests)."""
