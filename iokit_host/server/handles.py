"""A session's handles: the names it holds for kernel objects (a task's IPC space).

Mach names each right a task holds with an integer and counts user references on it; the same
kernel object always has the same name in one task. Here a :class:`HandleTable` does that per
connection: :meth:`HandleTable.add` gives an object its handle (the same one again, with one
more reference), :meth:`HandleTable.release` drops a reference and forgets the object at zero.
A client can only name objects through its own handles, and the table is bounded, so a client
cannot make the kernel hold unbounded memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["DEFAULT_HANDLE_LIMIT", "HandleTable"]

#: Distinct objects one connection may hold at once.
DEFAULT_HANDLE_LIMIT = 1 << 16
#: References one connection may hold on one object (Mach's ``MACH_PORT_UREFS_MAX`` bounds
#: them too).
_MAX_REFS = (1 << 31) - 1

T = TypeVar("T")


class HandleTable:
    def __init__(self, limit: int = DEFAULT_HANDLE_LIMIT) -> None:
        self.limit = limit
        self._names = itertools.count(0x1003, 4)  # shaped like Mach port names
        #: Each handle's object (read it; change it through the methods): a hot path reads
        #: it directly instead of calling :meth:`get`.
        self.objects: dict[int, object] = {}
        self._refs: dict[int, int] = {}
        self._handle_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.objects)

    def add(self, obj: object) -> int | None:
        """``obj``'s handle with one more reference; None when the table is full."""
        handle = self._handle_of.get(id(obj))
        if handle is not None:
            self._refs[handle] = min(self._refs[handle] + 1, _MAX_REFS)
            return handle
        if len(self.objects) >= self.limit:
            return None
        handle = next(self._names)
        self.objects[handle] = obj
        self._refs[handle] = 1
        self._handle_of[id(obj)] = handle
        return handle

    def get(self, handle: object, kind: type[T]) -> T | None:
        """The object ``handle`` names if it is a ``kind``, else None (``CHECK`` in xnu)."""
        if not isinstance(handle, int) or isinstance(handle, bool):
            return None
        obj = self.objects.get(handle)
        return obj if isinstance(obj, kind) else None

    def handle_of(self, obj: object) -> int | None:
        return self._handle_of.get(id(obj))

    def retain(self, handle: int) -> bool:
        if handle not in self._refs:
            return False
        self._refs[handle] = min(self._refs[handle] + 1, _MAX_REFS)
        return True

    def release(self, handle: object) -> object | None:
        """Drop one reference; returns the object when that was its last, else None."""
        if not isinstance(handle, int) or handle not in self._refs:
            return None
        self._refs[handle] -= 1
        if self._refs[handle] > 0:
            return None
        return self.forget(handle)

    def forget(self, handle: int) -> object | None:
        """Drop every reference to ``handle`` at once; returns the object."""
        obj = self.objects.pop(handle, None)
        self._refs.pop(handle, None)
        if obj is not None:
            self._handle_of.pop(id(obj), None)
        return obj

    def items(self) -> Iterator[tuple[int, object]]:
        return iter(list(self.objects.items()))
