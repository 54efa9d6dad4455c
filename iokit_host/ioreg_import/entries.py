"""An entry line of a dump, read back into a node (the inverse of ioreg.c ``show``'s header).

ioreg prints each registry entry as ``+-o name[@location]  <class X, ...>``; the header comes
in three shapes (see :mod:`.tree`): modern (``<class X, id 0x100000138, registered, matched,
active, busy 0 (7546 ms), retain 56>``), old (``<class IOPCIDevice, retain count 9>``) and
``-i`` (``<class IORegistryEntry:IOService:IOPCIDevice, id ...>``). :class:`DumpNode` is what
one entry printed, nothing inferred; :func:`parse_node_line` reads a line into one, and is
what :mod:`.fastlines`' shape for modern headers must agree with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DumpNode", "entry_id", "parse_node_line"]

_CLASS = "<class "
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")


@dataclass(slots=True, eq=False)  # identity: two entries printed alike are still two
class DumpNode:
    """One entry as printed: what the line and its property block say, nothing inferred.

    :param inheritance: the ``-i`` class chain, most derived first; empty without ``-i``.
    :param properties: None when no property block was printed (tree-only dumps).
    :param line: 1-based line number of the node line, for diagnostics.
    :param dropped: True for an entry dropped as damaged; it is never part of the tree.
    """

    name: str
    location: str | None
    class_name: str
    line: int
    depth: int
    inheritance: tuple[str, ...] = ()
    entry_id: int | None = None
    states: tuple[str, ...] = ()
    properties: dict[str, Any] | None = None
    children: list[DumpNode] = field(default_factory=list)
    dropped: bool = False


def parse_node_line(rest: str, number: int,
                     depth: int) -> tuple[DumpNode | None, bool, str | None]:
    """The entry a line (after ``+-o ``) shows, whether its header was clipped, and the id
    text when it cannot be read (the entry is kept without an id then).

    A header clipped before its ``>`` keeps the parts before its last comma (that last part
    may be cut); one clipped inside the class name cannot be read.
    """
    split = rest.rfind(_CLASS)
    if split < 0:
        return None, False, None
    label = rest[:split].rstrip(" \t")
    header = rest[split + len(_CLASS):].rstrip()
    clipped = not header.endswith(">")
    parts = [part.strip() for part in (header if clipped else header[:-1]).split(",")]
    if clipped:
        if len(parts) < 2:
            return None, True, None
        parts.pop()
    chain = [name for name in parts[0].split(":") if name]
    if not chain:
        return None, clipped, None
    name, at, location = label.rpartition("@")
    if not at:
        name, location = label, ""
    node = DumpNode(name=name, location=location or None, class_name=chain[-1], line=number,
                    depth=depth, inheritance=tuple(reversed(chain)) if len(chain) > 1 else ())
    states: list[str] = []
    bad_id = None
    for part in parts[1:]:
        if part.startswith("id "):
            node.entry_id = entry_id(part[3:])
            bad_id = part[3:] if node.entry_id is None else None
        elif not part.startswith("retain"):
            states.append(part)
    node.states = tuple(states)
    return node, clipped, bad_id


def entry_id(text: str) -> int | None:
    """The id printed as ``id 0x<hex>``; None when it was edited (``0xXXXXXXXX``, ``<id>``)."""
    digits = text.removeprefix("0x")
    if digits == text or not 0 < len(digits) <= 16 or _HEX_DIGITS.fullmatch(digits) is None:
        return None
    return int(digits, 16)
