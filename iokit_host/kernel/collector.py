"""The cyclic garbage collector during a boot: young collections only (a boot's objects live on).

IOKit's kernel has no tracing collector; CPython's does, and a boot hands it hundreds of
thousands of objects that all stay alive (entries, drivers, match records). Each full
collection walks every one of them, so past 10,000 nubs a boot spends a growing share of its
time (15% at 100,000) proving that nothing died: a 100,000-nub boot leaves a couple of dozen
unreachable objects. While a boot runs, :func:`young_collections_only` keeps the collections
of the young generations, which catch the cycles driver code makes and drops, and holds back
the full ones; what is left for the oldest generation is collected in the usual way after.
The PM work queue does the same while it runs (:mod:`iokit_host.power.queue`): a system
sleep and wake of a large tree makes tens of thousands of short-lived tasks, and the full
collection they set off cost a third of the whole.

A process that runs one command and ends (the ``iokit`` console script) imports its command
inside :func:`imports_settled`: no collection runs while the modules are made, and what they
made is then frozen (``gc.freeze``), so no later collection walks it again. Left on, the
collector walks those tens of thousands of objects over and over only to find them alive:
some 10 ms of an ``iokit boot`` (tests/bench/test_boot_command_bench.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["imports_settled", "young_collections_only"]

#: Collections of the middle generation before a full one: never, in practice, for a boot.
_HELD = 1 << 30


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Hold back full collections inside the block; the thresholds are restored after it,
    however it ends (nested blocks restore in turn)."""
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(young, middle, _HELD)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, oldest)


@contextmanager
def imports_settled() -> Iterator[None]:
    """No collection inside the block; what is alive at its end is frozen for good (only for
    a process that ends with its command: garbage alive then is never collected). The
    collector is on after it again if it was before, however the block ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
