"""Machine-model errors: a bad model file, an unknown machine name (IOKit has no counterpart:
a Mac's hardware tree comes from firmware, which cannot be wrong in a file).

Every error is a :class:`MachineModelError` with a stable kebab-case ``reference``; the
diagnostic names the file, the node's path (``root/PCI0@0/ARPT@1C,1``), the key and the reason.
"""

from __future__ import annotations

from iokit_host.errors import IOKitError

__all__ = [
    "BAD_BITS",
    "BAD_HEX",
    "BAD_VALUE",
    "CLASS_LOOP",
    "DUPLICATE_ID",
    "IMPORT_UNAVAILABLE",
    "NOT_FOUND",
    "RESOURCES_PLACEMENT",
    "ROOT_NOT_SERVICE",
    "STRUCTURE",
    "SYNTAX",
    "TOO_DEEP",
    "UNKNOWN_ID",
    "UNKNOWN_KEY",
    "UNKNOWN_MACHINE",
    "UNKNOWN_PLANE",
    "WRONG_TYPE",
    "ZIP_UNREADABLE",
    "MachineModelError",
]

SYNTAX = "machine-model-syntax"
UNKNOWN_KEY = "machine-model-unknown-key"
WRONG_TYPE = "machine-model-wrong-type"
BAD_BITS = "machine-model-bad-bits"
BAD_HEX = "machine-model-bad-hex"
BAD_VALUE = "machine-model-bad-value"
DUPLICATE_ID = "machine-model-duplicate-id"
UNKNOWN_ID = "machine-model-unknown-id"
UNKNOWN_PLANE = "machine-model-unknown-plane"
CLASS_LOOP = "machine-model-class-loop"
STRUCTURE = "machine-model-structure"
RESOURCES_PLACEMENT = "machine-model-resources-placement"
ROOT_NOT_SERVICE = "machine-model-root-not-service"
TOO_DEEP = "machine-model-too-deep"
NOT_FOUND = "machine-model-not-found"
UNKNOWN_MACHINE = "machine-unknown"
IMPORT_UNAVAILABLE = "machine-import-unavailable"
ZIP_UNREADABLE = "machine-zip-unreadable"


class MachineModelError(IOKitError):
    """A machine model that cannot be read, written or found.

    ``subject`` is the node's path in the model (``root/PCI0@0/ARPT@1C,1``) when the problem
    is in a node; ``key`` the key within it (``properties.vendor-id``).
    """

    reference = "machine-model-invalid"

    def __init__(self, message: str, *, reference: str | None = None, file: str | None = None,
                 node: str | None = None, key: str | None = None,
                 hint: str | None = None) -> None:
        where = " ".join(part for part in (node, key) if part)
        super().__init__(f"{where}: {message}" if where else message, file=file, key=key,
                         hint=hint, subject=node, reference=reference)
        self.node = node
        self.reason = message

    def at_node(self, node: str) -> MachineModelError:
        """The same error placed at ``node``, for one raised where the node was not known."""
        found = self.diagnostic
        return MachineModelError(self.reason, reference=found.reference, file=found.file,
                                 node=node, key=found.key, hint=found.hint)
