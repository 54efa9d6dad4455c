"""What changed between two snapshots: IORegistryExplorer's highlight of new and changed entries.

IORegistryExplorer watches the registry and marks entries that appeared (hot-plug, a driver
started, a user client opened) or changed (a property, the busy state, a power state) for a
moment, and drops those that left. Two snapshots' records are compared by entry id: ids are
never reused, so an id present only in the newer one is new, one present only in the older one
has left, and one whose record differs has changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Changes", "compare"]


@dataclass(frozen=True, slots=True)
class Changes:
    """Entries ``added``, ``removed`` and ``changed`` (ids with a label each)."""

    generation: int
    added: tuple[tuple[int, str], ...]
    removed: tuple[tuple[int, str], ...]
    changed: tuple[tuple[int, str], ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        def rows(items: tuple[tuple[int, str], ...]) -> list[dict[str, Any]]:
            return [{"id": entry_id, "label": label} for entry_id, label in items]
        return {"generation": self.generation, "added": rows(self.added),
                "removed": rows(self.removed), "changed": rows(self.changed)}


def compare(old: Mapping[int, Mapping[str, Any]], new: Mapping[int, Mapping[str, Any]],
            generation: int) -> Changes:
    """The changes from the records ``old`` to ``new`` (both by entry id)."""
    added = tuple((i, _label(new[i])) for i in new if i not in old)
    removed = tuple((i, _label(old[i])) for i in old if i not in new)
    changed = tuple((i, _label(record)) for i, record in new.items()
                    if i in old and old[i] != record)
    return Changes(generation, added, removed, changed)


def _label(record: Mapping[str, Any]) -> str:
    name, location = record.get("name"), record.get("location")
    chain = record.get("chain") or ["?"]
    text = f"{name}@{location}" if location else str(name)
    return f"{text} ({chain[0]})"
