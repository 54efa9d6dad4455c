"""The rematch limit: how often one personality may be tried on one nub (``IORematchCount``).

IOKit counts the rematches of a crashed dext on its provider (``IORematchCount``) and, past
``dextrelaunch`` (1000), excludes that personality there so the others may match
(:mod:`iokit_host.dext.rematch`). A kext has no such bound in IOKit: a driver whose ``start``
terminates itself with ``kIOServiceTerminateWithRematch``, or terminates itself and registers
its provider again, or registers its provider and fails (the same from ``probe``), makes the
nub match it again, forever. The host counts the same way for every personality: each time one
is tried on a nub (allocated, for probe and start) past the first is a rematch; past 1000 of
them it is not tried on that nub again (for the nub's life, as ``IORematchCount`` is kept), the
pass goes on with the other candidates, and ``driver-rematch-loop`` names the kext, the driver
and the nub, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iokit_host.dext.rematch import DEFAULT_RELAUNCH_MAX
from iokit_host.errors import Diagnostic
from iokit_host.kernel.driver_calls import service_name

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.kernel.protocol import Reporter
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["MAX_REMATCHES", "RematchLimit"]

#: Rematches of one personality on one nub: ``gIODextRelaunchMax``, the number IOKit allows a
#: crashing dext; a driver that is legitimately replaced and matched again stays far below it.
MAX_REMATCHES = DEFAULT_RELAUNCH_MAX


class RematchLimit:
    """Per nub, how often each personality (by catalogue entry) was tried there.

    A boot tries one personality or a few on each of its thousands of nubs, once: so a nub's
    first try is kept as the entry's ``seq`` alone (an int the entry holds already: no object
    per nub), and a nub gets its own counts only when a second try comes, of any entry."""

    def __init__(self, reporter: Reporter, limit: int = MAX_REMATCHES) -> None:
        self.reporter = reporter
        self.limit = limit
        #: nub -> the seq of the one entry tried there once, or tries by entry seq.
        self._tries: dict[IOService, int | dict[int, int]] = {}

    def admit(self, nub: IOService, entry: CatalogueEntry) -> str | None:
        """Count one try of ``entry`` on ``nub``; None when it may be tried, else why not
        (said once, as ``driver-rematch-loop``, when the limit is first passed)."""
        seq = entry.seq
        kept = self._tries.get(nub)
        if kept is None:
            self._tries[nub] = seq  # the nub's first try
            return None
        if isinstance(kept, int):  # a second try on the nub: it gets counts of its own
            tries: dict[int, int] = {kept: 1}
            self._tries[nub] = tries
        else:
            tries = kept
        done = tries.get(seq, 0)
        if done <= self.limit:
            tries[seq] = done + 1
            return None
        if done == self.limit + 1:
            tries[seq] = done + 1  # reported; later passes only record the refusal
            self._report(nub, entry)
        return (f"not tried again: matched again {self.limit} times on this nub, and each "
                "time its driver was terminated, failed or declined (a rematch loop)")

    def _report(self, nub: IOService, entry: CatalogueEntry) -> None:
        self.reporter.report(Diagnostic(
            "driver-rematch-loop",
            f"{entry.io_class} ({entry.bundle_id}) on {service_name(nub)}: matched again "
            f"{self.limit} times, and each time its driver was terminated, failed or "
            "declined; it is not matched on this nub again",
            subject=entry.bundle_id, key=f"IOKitPersonalities.{entry.name}",
            hint="a driver must not terminate itself with kIOServiceTerminateWithRematch, or "
                 "register its provider again, from its own probe or start: each makes the "
                 "nub match it again; the other drivers may still match the nub"))

    def forget(self, nub: IOService) -> None:
        """``nub`` was freed: a new nub starts with no rematches."""
        self._tries.pop(nub, None)
