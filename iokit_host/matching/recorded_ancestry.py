"""A machine's recorded class chains as its ancestry: ``OSMetaClass``'s superclass links as
a dump (``ioreg -i``) or an IORegistryExplorer archive (each entry's ``inheritance``) recorded
them.

On a Mac every class has one superclass, fixed when its kext loaded, and no chain loops or
runs for hundreds of classes (IOKit's are some twenty long). A damaged or edited record can
say otherwise: one chain naming a class twice, two chains disagreeing, a chain of 300
classes. :func:`acyclic_ancestry` keeps the first superclass recorded for each class, as
IOKit's own records would, and leaves out each link that would close a loop or make a chain
longer than :data:`~.classes.MAX_CLASS_DEPTH` classes, so the ancestry a
dump boots with directly is the one its imported model file holds, and the model's reader
(``machine/document.py``) takes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from iokit_host.matching.classes import MAX_CLASS_DEPTH, STANDARD_CLASSES

__all__ = ["acyclic_ancestry"]

#: A link left out: (class, superclass, why).
Refused = tuple[str, str, str]


def acyclic_ancestry(links: Iterable[tuple[str, str]],
                     standard: Mapping[str, str] = STANDARD_CLASSES,
                     max_depth: int = MAX_CLASS_DEPTH) -> tuple[dict[str, str], list[Refused]]:
    """The first recorded ``(class, superclass)`` link of each class, without the links that
    would close a loop or make a chain (counted with ``standard``'s links above the recorded
    ones, as the model reader counts) longer than ``max_depth`` classes. Returns the ancestry
    and the links left out, with why. Each class is walked a bounded number of times, so any
    record costs linear time."""
    kept: dict[str, str] = {}
    for name, superclass in links:
        kept.setdefault(name, superclass)  # as IOKit's own records: the first chain decides
    refused: list[Refused] = []
    lengths: dict[str, int] = {}  # classes from a class to its chain's end, itself included
    for name in list(kept):
        if name not in lengths:
            _measure(name, kept, standard, max_depth, lengths, refused)
    return kept, refused


def _measure(name: str, kept: dict[str, str], standard: Mapping[str, str], max_depth: int,
             lengths: dict[str, int], refused: list[Refused]) -> None:
    """Walk up from ``name`` to a measured class or the chain's end, leaving out the link that
    closes a loop or overruns ``max_depth``, and measure the classes walked."""
    while True:
        chain = _walk(name, kept, standard, lengths, refused, max_depth)
        above = lengths.get(chain[-1], 1)
        total = len(chain) - 1 + above
        if total <= max_depth:
            break
        # Cut below the measured class the walk stopped at (its length stands), within the
        # first max_depth classes: the chain from name then ends in time.
        measured = len(chain) - 1 if chain[-1] in lengths else len(chain)
        cut = _leave_out(chain[:min(max_depth, measured)], kept, refused,
                         f"would make the class chain of {name} more than {max_depth} classes "
                         "long")
        if cut is None:  # only standard links: not the record's to shorten
            break
        # walked again: a class whose recorded link went may go on by a standard one
    for position, link in enumerate(chain):
        length = len(chain) - 1 - position + above
        if length <= max_depth:
            lengths[link] = length


def _walk(name: str, kept: dict[str, str], standard: Mapping[str, str],
          lengths: dict[str, int], refused: list[Refused], max_depth: int) -> list[str]:
    """The chain from ``name`` up to a measured class or its end, or its first ``max_depth``
    + 1 classes (too long already: no need to walk on); the recorded link that would close a
    loop is left out on the way."""
    chain = [name]
    seen = {name}
    while chain[-1] not in lengths and len(chain) <= max_depth:
        nxt = kept.get(chain[-1], standard.get(chain[-1]))
        if nxt is None:
            break
        if nxt in seen:  # the loop closes here: its last recorded link goes
            cut = _leave_out(chain, kept, refused, f"would make {nxt} its own ancestor")
            if cut is None:
                break
            del chain[cut + 1:]
            seen = set(chain)
            continue  # the class there ends the chain, or goes on by a standard link
        chain.append(nxt)
        seen.add(nxt)
    return chain


def _leave_out(chain: list[str], kept: dict[str, str], refused: list[Refused],
               why: str) -> int | None:
    """Leave out the highest recorded link of ``chain`` (a standard link is not the record's
    to drop); its position in ``chain``, or None when it has none."""
    for position in range(len(chain) - 1, -1, -1):
        link = chain[position]
        if link in kept:
            refused.append((link, kept.pop(link), why))
            return position
    return None
