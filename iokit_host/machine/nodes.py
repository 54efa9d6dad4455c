"""A model's nubs as the parser meets them, and the paths that name them in errors.

The platform expert's nubs form a tree; a model file lists them in pre-order, each naming its
``parent``. These are the parser's working records and the ``root/PCI0@0/ARPT@0`` paths that
errors use to say which nub is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from iokit_host.machine.model import NubSpec

__all__ = ["Raw", "node_path", "nub_label", "spec_components", "spelt_path"]


def node_path(chain: Iterable[NubSpec]) -> str:
    """``Mac/PCI0@0/ARPT@1C,1``: ``name[@location]`` of each nub from the root nub down."""
    return spelt_path(spec_components(chain))


def nub_label(index: int, path: str | None = None) -> str:
    """``nub[3] Mac/PCI0@0/ARPT@1C,1``: the nub's ``[[nub]]`` table, then its path when known
    (not yet while the keys that make it are being checked)."""
    return f"nub[{index}]" if path is None else f"nub[{index}] {path}"


def _component(name: str | None, class_name: str, location: str | None) -> str:
    shown = name if name is not None else class_name
    return f"{shown}@{location}" if location else shown


@dataclass(slots=True)
class Raw:
    """One ``[[nub]]`` table after its structural keys are read."""

    index: int
    table: dict[str, Any]
    up: Raw | None
    id: str | None
    class_name: str
    name: str | None
    location: str | None
    #: What errors call a node outside the IOService tree (``entry[3]``); None for a nub.
    label: str | None = None

    @property
    def parent(self) -> int | None:
        return None if self.up is None else self.up.index

    @property
    def path(self) -> str:
        """What errors call the node (:func:`nub_label`, or ``entry[3]``), spelt only when an
        error needs it: a chain of thousands of nubs would otherwise cost a path of
        thousands of components per nub."""
        if self.label is not None:
            return self.label
        parts: list[str] = []
        raw: Raw | None = self
        while raw is not None:
            parts.append(_component(raw.name, raw.class_name, raw.location))
            raw = raw.up
        parts.reverse()
        return nub_label(self.index, spelt_path(parts))


def spelt_path(parts: list[str]) -> str:
    """The components from the root nub down, the middle of a long chain left out
    (``Mac/a/b/…(91 more)…/x/y/z``)."""
    if len(parts) > 12:
        parts = [*parts[:3], f"…({len(parts) - 9} more)…", *parts[-6:]]
    return "/".join(parts)


def spec_components(chain: Iterable[NubSpec]) -> list[str]:
    """``name[@location]`` of each nub of ``chain``, the root nub first."""
    return [_component(nub.name, nub.class_name, nub.location) for nub in chain]
