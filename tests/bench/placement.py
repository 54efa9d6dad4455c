"""Where the round-trip benchmarks run: every process of a comparison on one CPU.

A round trip between two processes costs each side's CPU plus two wake-ups. On this two-core
virtual machine a wake-up that crosses cores costs several times one on the same core (a
64-byte Python echo: about 10 us when both ends share a core, 30-45 us when they do not), and
the scheduler decides afresh for every process where it lands. Unpinned, a benchmark compares
whichever placement the baseline's peer drew with whichever the subject's drew: the same code
measured 3x in one run and 9x in the next. :func:`one_cpu` puts the benchmark and every peer
(the echo, the kernel, the driver process) on the same CPU, so baseline and subject pay the
same wake-ups and the ratio measures the work each side does, which is what the targets are
about. Load from other processes still lands on both alike: the variants are interleaved.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["one_cpu", "pin"]


@contextmanager
def one_cpu() -> Iterator[int]:
    """Run this process, and the children it starts meanwhile (they inherit it), on one of
    the CPUs it may use; the CPU's number. The previous set is restored afterwards."""
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def pin(pid: int, cpu: int) -> None:
    """Put an already running process (and each of its threads) on ``cpu``."""
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:
        try:
            os.sched_setaffinity(tid, {cpu})
        except OSError:  # a thread that ended meanwhile
            continue
