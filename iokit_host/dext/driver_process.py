"""``python -m iokit_host.dext.driver_process``: how the kernel starts a driver process.

The process's work is :func:`iokit_host.dext.server.main` (an ``IOUserServer`` task); this
module first keeps the compiled code of its dataclasses between launches
(:mod:`iokit_host.generated_code`), before the SDK and the driver make any: every launch of
a dext, and every relaunch after a crash, would otherwise compile them all again. What a
launch compiled anew is kept once the driver has checked in, so the kernel never waits on it.
"""

from __future__ import annotations

import sys

from iokit_host.generated_code import keep_compiled

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    store = keep_compiled("dext")
    from iokit_host.dext import server  # after: its dataclasses' code comes from the store

    return server.main(argv, checked_in=store.save if store is not None else None)


if __name__ == "__main__":
    sys.exit(main())
