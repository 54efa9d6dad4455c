"""IOKit object handles: ``io_object_t`` and its typedefs, and iterators (``IOTypes.h``).

In C every IOKit object a program holds is a Mach port name, an integer, and 0 is
``IO_OBJECT_NULL``. Here a handle is an ``int`` too (so ``if not service:`` and
``service == IO_OBJECT_NULL`` read as in C) that also remembers the :class:`MainPort` it came
from. The kernel gives one handle per object per process and counts references on it, as
Mach counts send rights: ``IOObjectRelease`` drops one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from iokit_sdk.iokitlib.port import MainPort

__all__ = ["IO_OBJECT_NULL", "io_connect_t", "io_iterator_t", "io_object_t",
           "io_registry_entry_t", "io_service_t", "task_t"]

#: Objects an iterator takes from the kernel at once; the kernel's default, so a lookup (whose
#: reply brings the first batch) need not say it.
BATCH = 256


class io_object_t(int):
    """An object handle; ``main_port`` is the connection it belongs to (None for NULL)."""

    main_port: MainPort | None

    def __new__(cls, value: int, main_port: MainPort | None = None) -> Self:
        handle = super().__new__(cls, value)
        handle.main_port = main_port
        return handle

    def __repr__(self) -> str:
        return f"{type(self).__name__}(0x{int(self):x})"


#: ``io_registry_entry_t`` and ``io_service_t`` are typedefs of ``io_object_t`` in C too.
io_registry_entry_t = io_object_t
io_service_t = io_object_t

#: ``IO_OBJECT_NULL``: no object.
IO_OBJECT_NULL = io_object_t(0)


class io_connect_t(io_object_t):
    """A connection to a user client (``IOServiceOpen``)."""


class io_iterator_t(io_object_t):
    """An iterator the kernel keeps (a port right in C): ``IOIteratorNext`` gives each object
    once, then ``IO_OBJECT_NULL``.

    The kernel hands its objects over a batch at a time (``iterator_next``), kept in
    :attr:`items` until the program takes them, so a loop of ``IOIteratorNext`` costs one
    round trip a batch, and a lookup of a few services none past the lookup's own (its reply
    brings the first batch). A matching notification's iterator (``rewinds`` False) is also
    refilled as its notifications arrive, and ``IOIteratorReset`` leaves it as it is, as
    IOKit's ``IOUserNotification::reset`` does.
    """

    #: Objects taken from the kernel, not yet handed to the program (each holds a reference).
    items: deque[io_object_t]
    #: The kernel holds objects not yet taken.
    more: bool
    rewinds: bool
    #: ``IOObjectRelease`` let go of it.
    released: bool

    @classmethod
    def kernel(cls, main_port: MainPort, handle: int, reply: Mapping[str, Any], *,
               rewinds: bool = True) -> io_iterator_t:
        """The iterator ``handle`` names, with the first batch ``reply`` brought."""
        iterator = cls(handle, main_port)
        iterator.items, iterator.more = deque(), False
        iterator.rewinds, iterator.released = rewinds, False
        iterator.take(reply)
        return iterator

    def take(self, reply: Mapping[str, Any]) -> None:
        """Keep the objects of a batch (``objects``, ``more``)."""
        port = self.main_port
        self.items.extend(io_object_t(h, port) for h in reply.get("objects") or ()
                          if type(h) is int)
        self.more = reply.get("more") is True

    def next_object(self) -> io_object_t:
        items = self.items
        if not items:
            if not self.more or self.released:
                return IO_OBJECT_NULL
            self.refill()
            if not items:
                return IO_OBJECT_NULL
        return items.popleft()

    def refill(self) -> None:
        """Take the next batch from the kernel.

        :raises KernelConnectionError: the kernel is gone. :raises IOReturnError: the
            program holds too many objects (``kIOReturnNoResources``).
        """
        port = self.main_port
        assert port is not None
        self.take(port.call("iterator_next", iterator=int(self), count=BATCH))

    def reset(self) -> None:
        """Start over at the first object (the kernel's list, unchanged since the lookup);
        what was taken but not handed out is released on the way."""
        if not self.rewinds or self.released:
            return
        port = self.main_port
        assert port is not None
        unread = [int(item) for item in self.items]
        self.items.clear()
        self.take(port.call("iterator_reset", iterator=int(self), release=unread,
                            count=BATCH))

    def unread(self) -> list[io_object_t]:
        return list(self.items)

    def __iter__(self) -> Iterator[io_object_t]:
        while item := self.next_object():
            yield item


class task_t(int):
    """A task port (``mach_task_self()``): here the process id."""
