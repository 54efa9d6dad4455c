"""How the in-process benchmarks time their variants on a loaded machine.

Each variant runs once per round, the variants of a round back to back (so drift lands on all
alike), after collecting the previous run's garbage, and each run is measured in the CPU time
this process used (``time.process_time``): other processes competing for the two cores lengthen
wall time by whatever the scheduler gives them, but hardly the CPU time of the run itself. The
benchmarks compare medians of these samples; timings across processes (a socket round trip, a
driver process) stay in wall time, where the waiting is part of the cost.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["interleaved_cpu"]


def interleaved_cpu(calls: dict[str, Callable[[], object]], rounds: int, *,
                    repeat: int = 1, collect: bool = True) -> dict[str, list[float]]:
    """CPU seconds per call of each variant, one sample per round (``repeat`` calls each)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            if collect:
                gc.collect()
            start = time.process_time()
            for _ in range(repeat):
                call()
            samples[name].append((time.process_time() - start) / repeat)
    return samples
