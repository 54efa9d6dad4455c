"""IOKit object handles: ``io_object_t`` and its typedefs, and iterators (``IOTypes.h``).

In C every IOKit object a program holds is a Mach port name, an integer, and 0 is
``IO_OBJECT_NULL``. Here a handle is an ``int`` too (so ``if not service:`` and
``service == IO_OBJECT_NULL`` read as in C) that also remembers the :class:`MainPort` it came
from. The kernel gives one handle per object per process and counts references on it, as
Mach counts send rights: ``IOObjectRelease`` drops one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from iokit_sdk.iokitlib.port import MainPort

__all__ = ["IO_OBJECT_NULL", "io_connect_t", "io_iterator_t", "io_object_t",
           "io_registry_entry_t", "io_service_t", "task_t"]

#: Iterators of matching services live in the program only; their names are drawn from a
#: range the kernel never gives out, so they never equal a kernel handle.
_LOCAL_NAMES = itertools.count(0x40000000)


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
    """An iterator: ``IOIteratorNext`` gives each object once, then ``IO_OBJECT_NULL``.

    A notification's iterator (``IOServiceAddMatchingNotification``) has a kernel handle and
    is refilled as notifications arrive; the others hold a list the kernel sent at once.
    """

    items: list[io_object_t]
    position: int
    kernel_handle: int | None

    @classmethod
    def local(cls, main_port: MainPort, items: list[io_object_t]) -> io_iterator_t:
        iterator = cls(next(_LOCAL_NAMES), main_port)
        iterator.items, iterator.position, iterator.kernel_handle = items, 0, None
        return iterator

    @classmethod
    def notification(cls, main_port: MainPort, handle: int) -> io_iterator_t:
        iterator = cls(handle, main_port)
        iterator.items, iterator.position, iterator.kernel_handle = [], 0, handle
        return iterator

    def next_object(self) -> io_object_t:
        if self.position >= len(self.items):
            return IO_OBJECT_NULL
        item = self.items[self.position]
        self.position += 1
        if self.kernel_handle is not None:  # a notification iterator does not rewind
            del self.items[:self.position]
            self.position = 0
        return item

    def unread(self) -> list[io_object_t]:
        return self.items[self.position:]

    def __iter__(self) -> Iterator[io_object_t]:
        while item := self.next_object():
            yield item


class task_t(int):
    """A task port (``mach_task_self()``): here the process id."""
