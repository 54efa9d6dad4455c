"""IOLog: what a driver prints goes to the kernel's log, never into a command's output.

A kext's ``IOLog`` lands in the kernel log, not in what ``ioreg`` prints. Here a driver is
Python code in the command's own process, and its ``print`` would land in the middle of
``iokit ioreg -a``'s plist or ``iokit boot``'s tree (or fill the pipe a running kernel's ready
line went down, which nobody reads, and block). :class:`IOLog` stands in for ``sys.stdout``
while a command's kernel runs: what is written during one of its driver calls, or from any
thread other than the command's (a driver's own), goes to stderr, the kernel's log; the
command's own output goes where it always went. The cost is one check per write.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterable

    from iokit_host.kernel.driver_calls import DriverCalls

__all__ = ["IOLog", "route_driver_output"]


def route_driver_output(calls: DriverCalls) -> None:
    """Make ``sys.stdout`` an :class:`IOLog` for the kernel whose driver calls are ``calls``
    (a command's newest kernel, when it makes several)."""
    current = sys.stdout
    if isinstance(current, IOLog):
        current.calls = calls
    else:
        sys.stdout = IOLog(current, calls)


class IOLog(io.TextIOBase):
    """``sys.stdout`` routed by who writes (see the module docstring); the log is whatever
    ``sys.stderr`` is when written to."""

    def __init__(self, output: TextIO, calls: DriverCalls) -> None:
        super().__init__()
        self.output = output
        self.calls = calls
        self._owner = threading.get_ident()

    def _stream(self) -> TextIO:
        if self.calls.watchdog.stack or threading.get_ident() != self._owner:
            return sys.stderr
        return self.output

    def write(self, text: str) -> int:
        return self._stream().write(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        self._stream().writelines(lines)

    def flush(self) -> None:
        self.output.flush()

    # -- the rest of a text stream, as the command's output is ---------------------------
    def fileno(self) -> int:
        return self.output.fileno()

    def isatty(self) -> bool:
        return self.output.isatty()

    @property
    def buffer(self) -> Any:
        return self.output.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.output.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.output.errors
