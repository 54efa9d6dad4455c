"""The error an unreadable ioreg dump raises (``ioreg-dump-invalid``), naming file, line and reason.

IOKit has no importer, so there is no counterpart; the reference is stable so scripts and
``iokit machine import`` can tell a bad dump from other failures.
"""

from __future__ import annotations

from iokit_host.errors import IOKitError

__all__ = ["IoregDumpInvalid", "ValueSyntaxError"]


class IoregDumpInvalid(IOKitError):
    """The text is not an ioreg dump, or one of its lines cannot be read."""

    reference = "ioreg-dump-invalid"


class ValueSyntaxError(ValueError):
    """A property value that is not in ioreg's text syntax; ``column`` is 0-based.

    Internal to the importer: the tree reader turns it into :class:`IoregDumpInvalid` with the
    file and line, which only it knows.
    """

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"{reason} at column {column + 1}")
        self.reason = reason
        self.column = column
