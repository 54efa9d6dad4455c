"""What IOKitLib raises when the kernel itself cannot be talked to (a Mach send that fails:
``MACH_SEND_INVALID_DEST``, ``kIOReturnNotResponding``), as opposed to a failing IOReturn of
a call the kernel answered (:class:`~iokit_sdk.returns.IOReturnError` itself)."""

from __future__ import annotations

from iokit_sdk.returns import IOReturn, IOReturnError

__all__ = ["KernelConnectionError", "ProtocolVersionError", "send_cause"]


class KernelConnectionError(IOReturnError):
    """The kernel cannot be reached, refused this process, or went away.

    :param reference: ``kernel-unreachable``, ``kernel-refused``, ``kernel-gone``,
        ``kernel-timeout``, ``kernel-garbled`` or ``protocol-version-mismatch``.
    """

    def __init__(self, message: str, *, reference: str = "kernel-unreachable",
                 code: int = IOReturn.NOT_RESPONDING) -> None:
        self.reference = reference
        super().__init__(code, message)


class ProtocolVersionError(KernelConnectionError):
    """The kernel speaks another version of the protocol."""


def send_cause(error: BaseException) -> BaseException | None:
    """The cause a send failure's exception names: the socket's error; not the codec's."""
    return error if isinstance(error, OSError) else None
