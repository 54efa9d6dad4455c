"""A repair: damage a whole document was read past, to be told to the user once.

No IOKit counterpart: CoreFoundation's ``CFPropertyListCreateWithData`` refuses a damaged
document whole, and IORegistryExplorer then opens nothing. The readers here keep what the
damage left readable (:mod:`.xmldocument`: XML cut short or not UTF-8; :mod:`~iokit_host.kext.plistbinary`: a
binary plist cut short) and say so with one :class:`Repair` each, which the importer turns
into a warning (or, strict, a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Repair"]


@dataclass(frozen=True, slots=True)
class Repair:
    """What was damaged, as a clause naming the part (``"the XML breaks at line 3, column 2
    (mismatched tag)"``), what the reader did about it, and what the user can; with its
    stable reference."""

    reference: str
    what: str
    outcome: str
    hint: str
