"""A session's handles: the names it holds for kernel objects (a task's IPC space).

Mach names each right a task holds with an integer and counts user references on it; the same
kernel object always has the same name in one task. Here a :class:`HandleTable` does that per
connection: :meth:`HandleTable.add` gives an object its handle (the same one again, with one
more reference), :meth:`HandleTable.release` drops a reference and forgets the object at zero.
A client can only name objects through its own handles, and the table is bounded, so a client
cannot make the kernel hold unbounded memory: a connection holds at most
:data:`DEFAULT_HANDLE_LIMIT` objects, and the connections of one user together at most
:data:`MAX_HANDLES_PER_USER` (a :class:`UserQuota` the front end's tables share), as xnu bounds
a task's port space and each user's tasks. An iterator is one object however many services it
holds (:mod:`.iterators`); what its list holds is charged to the user too (:meth:`HandleTable.
charge`), at most :data:`MAX_ITERATOR_ITEMS_PER_USER` services together.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["DEFAULT_HANDLE_LIMIT", "MAX_HANDLES_PER_USER", "MAX_ITERATOR_ITEMS_PER_USER",
           "HandleTable", "UserQuota"]

#: Distinct objects one connection may hold at once.
DEFAULT_HANDLE_LIMIT = 1 << 16
#: References one connection may hold on one object (Mach's ``MACH_PORT_UREFS_MAX`` bounds
#: them too).
_MAX_REFS = (1 << 31) - 1
#: Distinct objects the connections of one user may hold at once, together. Unbounded, a
#: client's 1024 connections could each hold 65,536 objects it made (assertions, notification
#: ports): 65,536 assertions took the kernel 75 MB, so 1024 connections' worth took tens of
#: gigabytes. Four connections' full tables.
MAX_HANDLES_PER_USER = 1 << 18
#: Services the iterators of one user's connections may hold together, not yet handed over
#: or kept for a reset (a reference each, 8 bytes). An iterator counts as one object, so
#: without this a client's 65,536 iterators of a 70,000-service registry would have held 4.6
#: billion references: sixty such lists.
MAX_ITERATOR_ITEMS_PER_USER = 1 << 22


class UserQuota:
    """The objects each user's connections hold together (by uid), shared by their tables,
    and the services their iterators hold (:attr:`items`)."""

    def __init__(self, limit: int = MAX_HANDLES_PER_USER,
                 item_limit: int = MAX_ITERATOR_ITEMS_PER_USER) -> None:
        self.limit = limit
        self.held: Counter[int] = Counter()
        self.item_limit = item_limit
        self.items: Counter[int] = Counter()

T = TypeVar("T")


class HandleTable:
    """One connection's handles; ``quota`` (with the peer's ``uid``) bounds them together
    with the other connections of the same user."""

    def __init__(self, limit: int = DEFAULT_HANDLE_LIMIT, *, quota: UserQuota | None = None,
                 uid: int = 0) -> None:
        self.limit = limit
        self.quota = quota
        self.uid = uid
        self._names = itertools.count(0x1003, 4)  # shaped like Mach port names
        #: Each handle's object (read it; change it through the methods): a hot path reads
        #: it directly instead of calling :meth:`get`.
        self.objects: dict[int, object] = {}
        self._refs: dict[int, int] = {}
        self._handle_of: dict[int, int] = {}
        #: Services this connection's iterators hold (:meth:`charge`).
        self.items = 0

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
        quota = self.quota
        if quota is not None:
            if quota.held[self.uid] >= quota.limit:
                return None
            quota.held[self.uid] += 1
        handle = next(self._names)
        self.objects[handle] = obj
        self._refs[handle] = 1
        self._handle_of[id(obj)] = handle
        return handle

    def full(self) -> str:
        """Why :meth:`add` refused a new object (the message of ``kIOReturnNoResources``)."""
        if len(self.objects) >= self.limit:
            return f"this client holds {self.limit} objects; release some (IOObjectRelease)"
        limit = self.quota.limit if self.quota is not None else self.limit
        return (f"the connections of uid {self.uid} hold {limit} objects together; release "
                "some (IOObjectRelease), or close connections")

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
            if self.quota is not None:
                self.quota.held[self.uid] -= 1
        return obj

    def charge(self, count: int) -> bool:
        """Count ``count`` more services held by this connection's iterators against the
        user's :data:`MAX_ITERATOR_ITEMS_PER_USER`; False (nothing counted) past it."""
        quota = self.quota
        if quota is None:
            if self.items + count > MAX_ITERATOR_ITEMS_PER_USER:
                return False
        elif quota.items[self.uid] + count > quota.item_limit:
            return False
        else:
            quota.items[self.uid] += count
        self.items += count
        return True

    def refund(self, count: int) -> None:
        """An iterator let go of ``count`` services it was charged for."""
        self.items -= count
        if self.quota is not None:
            self.quota.items[self.uid] -= count

    def pairs(self) -> Iterator[tuple[int, object]]:
        return iter(list(self.objects.items()))
