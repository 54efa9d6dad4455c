"""The error an unreadable IORegistryExplorer archive raises (``ioreg-archive-invalid``).

IORegistryExplorer says only "The document could not be opened"; here the reference is stable
and the message names the file, the object or key, and the reason.
"""

from __future__ import annotations

from iokit_host.errors import IOKitError

__all__ = ["ArchiveInvalid"]


class ArchiveInvalid(IOKitError):
    """The file is not an IORegistryExplorer archive (nor ``ioreg -a`` output), or, strict,
    a damaged one."""

    reference = "ioreg-archive-invalid"
