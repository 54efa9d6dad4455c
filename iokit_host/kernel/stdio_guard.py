"""The host's standard streams, kept from the drivers that share its process.

No IOKit counterpart: a kext has no standard streams (it logs through ``IOLog``). Here a
driver's code runs in the host's process, and a daemon's habits (closing fd 1, pointing
``sys.stdout`` at nothing, ``sys.stderr.close()``, ``reconfigure(encoding="ascii")``) would
take the host's output and every later diagnostic with them, or make a diagnostic with a
non-ASCII name fail to print. :class:`StdioGuard` keeps what was there when the kernel was
made and puts back whatever a driver changed: the file descriptors (by a private duplicate),
the ``sys`` objects, and each object's state (a closed one is replaced by a new one on the
same descriptor; a changed encoding or error handler is set back).
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO

__all__ = ["StdioGuard"]

_STREAMS = ((0, "stdin"), (1, "stdout"), (2, "stderr"))


class StdioGuard:
    """The host's standard streams (fds 0, 1 and 2) and their ``sys`` objects as they were
    when the kernel was made, each put back by :meth:`check`. Three ``fstat`` calls and a few
    attribute reads per check (about 3 µs): the kernel checks after each work-loop job and
    each kext import, not after every driver call."""

    def __init__(self) -> None:
        self._kept: list[tuple[int, str, tuple[int, int], int]] = []
        for fd, name in _STREAMS:
            identity = _identity(fd)
            if identity is not None:
                self._kept.append((fd, name, identity, os.dup(fd)))
                os.set_inheritable(self._kept[-1][3], False)
        # The Python objects too: a driver that sets sys.stdout to None, a StringIO or any
        # object took every later line of the host's output (and its error report) with it;
        # and sys.__stdout__, which the host's own writers may print through.
        self._objects = [(fd, name, getattr(sys, name), _settings(getattr(sys, name)))
                         for fd, stream in _STREAMS for name in (stream, f"__{stream}__")]
        self._note_objects()

    def _note_objects(self) -> None:
        """What :meth:`objects_kept` compares with: each name's object (in ``_STREAMS``
        order, each name then its ``__dunder__`` twin), and the streams that can be closed,
        each once."""
        self._kept6 = tuple(kept for _, _, kept, _ in self._objects)
        closable = {id(kept): (kept, settings[0], settings[1])
                    for _, _, kept, settings in self._objects if settings is not None}
        self._closable = tuple(kept for kept, _, _ in closable.values())
        #: Each stream that can be closed, with its encoding and error handler.
        self._encodings = tuple(closable.values())
        #: Each descriptor kept, with its identity (device, inode).
        self._identities = tuple((fd, device, inode)
                                 for fd, _, (device, inode), _ in self._kept)

    def check(self) -> list[str]:
        """The streams found closed, replaced or reconfigured since, each put back
        (``stdout (fd 1)``, ``sys.stdout``, ``sys.stderr (closed)``, ``sys.stderr's
        encoding``)."""
        if self.kept():
            return []  # the common case, after every job: nothing to put back or say
        changed = self._check_fds()
        fresh: dict[int, TextIO] = {}  # a closed stream's replacement, by the closed one
        for index, (fd, name, kept, settings) in enumerate(self._objects):
            if settings is not None and kept.closed:
                if id(kept) not in fresh:
                    fresh[id(kept)] = _reopened(fd, settings) or kept
                if fresh[id(kept)] is not kept:
                    self._objects[index] = (fd, name, fresh[id(kept)], settings)
                    kept = fresh[id(kept)]
                    changed.append(f"sys.{name} (closed)")
            if getattr(sys, name) is not kept:
                setattr(sys, name, kept)
                changed.append(f"sys.{name}")
            elif settings is not None and (kept.encoding, kept.errors) != settings[:2]:
                kept.reconfigure(encoding=settings[0], errors=settings[1])
                changed.append(f"sys.{name}'s encoding")
        self._note_objects()  # a closed stream's replacement is the one kept now
        return changed

    def objects_kept(self) -> bool:
        """Whether each ``sys`` stream is its object, open: :meth:`check`'s cheapest part,
        with no system call (a driver's ``sys.stdout = None`` or ``sys.stderr.close()``);
        a running kernel asks after every request."""
        # Spelled out: a loop of getattr costs three times as much, and this runs after
        # every request a running kernel serves.
        i, i0, o, o0, e, e0 = self._kept6
        s = sys
        if s.stdin is not i or s.__stdin__ is not i0 or s.stdout is not o \
                or s.__stdout__ is not o0 or s.stderr is not e or s.__stderr__ is not e0:
            return False
        for stream in self._closable:
            if stream.closed:
                return False
        return True

    def kept(self) -> bool:
        """Whether every descriptor and stream is as kept: :meth:`check`'s tests, read only
        (the same descriptor identities; each ``sys`` name on its object, open, with its
        encoding and error handler), asked first after each work-loop job."""
        # After every work-loop job: the objects by objects_kept's spelled-out reads, and
        # each stream's settings once (not once per name), a third less than a loop of
        # getattr over the six names.
        fstat = os.fstat
        try:
            for fd, device, inode in self._identities:
                status = fstat(fd)
                if status.st_ino != inode or status.st_dev != device:
                    return False
        except OSError:
            return False
        if not self.objects_kept():
            return False
        for kept, encoding, errors in self._encodings:
            if kept.encoding != encoding or kept.errors != errors:
                return False
        return True

    def _check_fds(self) -> list[str]:
        changed: list[str] = []
        for fd, name, identity, kept in self._kept:
            if _identity(fd) != identity:
                try:
                    os.dup2(kept, fd, inheritable=True)
                except OSError:  # the private copy went too (closed by number): nothing to put back
                    continue
                changed.append(f"{name} (fd {fd})")
        return changed

    def close(self) -> None:
        for _, _, _, kept in self._kept:
            try:
                os.close(kept)
            except OSError:
                pass
        self._kept.clear()
        self._identities = ()


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    return status.st_dev, status.st_ino


#: A text stream's encoding, error handler and line buffering.
_Settings = tuple[str, str, bool]


def _settings(stream: Any) -> _Settings | None:
    """What to keep of a stream the host began with: only a plain ``TextIOWrapper`` (whose
    attributes run no driver code); None for anything else (a test's capture)."""
    if type(stream) is not io.TextIOWrapper:
        return None
    return stream.encoding, stream.errors or "strict", stream.line_buffering


def _reopened(fd: int, settings: _Settings) -> TextIO | None:
    """A new stream on ``fd`` in place of a closed one (a driver's ``sys.stderr.close()``);
    None when ``fd`` cannot be opened."""
    encoding, errors, line_buffering = settings
    try:
        return open(fd, "r" if fd == 0 else "w", buffering=1 if line_buffering else -1,
                    encoding=encoding, errors=errors, closefd=False)
    except OSError:
        return None
