"""Machine-model errors: a bad model file, an unknown machine name (IOKit has no counterpart:
a Mac's hardware tree comes from firmware, which cannot be wrong in a file).

Every error is a :class:`MachineModelError` with a stable kebab-case ``reference``; the
diagnostic names the file, the node (``nub[3] Mac/PCI0@0/ARPT@1C,1``: see
:mod:`~iokit_host.machine.nodes`), the key and the reason.
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
    "TOO_LARGE",
    "UNKNOWN_ID",
    "UNKNOWN_KEY",
    "UNKNOWN_MACHINE",
    "UNKNOWN_PLANE",
    "WRONG_TYPE",
    "ZIP_UNREADABLE",
    "MachineModelError",
    "default_hint",
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
TOO_LARGE = "machine-model-too-large"
NOT_FOUND = "machine-model-not-found"
UNKNOWN_MACHINE = "machine-unknown"
IMPORT_UNAVAILABLE = "machine-import-unavailable"
ZIP_UNREADABLE = "machine-zip-unreadable"


#: What to do, for an error raised without a hint of its own (every diagnostic has one).
_HINTS = {
    SYNTAX: "a model file is UTF-8 TOML (docs/machine-models.md); fix the place named, or "
            "import a dump again with 'iokit machine import DUMP -o FILE'",
    UNKNOWN_KEY: "see docs/machine-models.md for the keys each table takes",
    WRONG_TYPE: "see docs/machine-models.md for the type each key takes",
    BAD_BITS: "use bits = 8, 16, 32 or 64",
    BAD_HEX: "data is an even count of hex digits, e.g. { data = \"e4140000\" }",
    BAD_VALUE: "numbers are 0 to 2**64-1; ids and names are non-empty text without NUL",
    STRUCTURE: "the first [[nub]] is the root; every other names an earlier nub as parent",
    NOT_FOUND: "give a built-in machine name ('iokit machine list') or a file that exists",
    TOO_DEEP: "a value nests at most 128 arrays or tables",
    TOO_LARGE: "a model holds at most 200000 nubs and entries, a property value at most "
               "262144 items; no Mac's registry comes near either",
}
_DEFAULT_HINT = "see docs/machine-models.md for the format"


#: Longest node path or key a message quotes whole: a name of megabytes is not echoed back.
_MAX_QUOTED = 160


def _clip(text: str, size: int = _MAX_QUOTED) -> str:
    """``text``, its middle elided past ``size`` characters (its start and end say most)."""
    if len(text) <= size:
        return text
    half = size // 2 - 2
    return f"{text[:half]}...{text[-half:]}"


def default_hint(reference: str) -> str:
    """The hint an error of ``reference`` gets when the place raising it has none better."""
    return _HINTS.get(reference, _DEFAULT_HINT)


class MachineModelError(IOKitError):
    """A machine model that cannot be read, written or found.

    ``subject`` is the node (``nub[3] Mac/PCI0@0/ARPT@1C,1``, ``entry[2]``) when the problem
    is in one; ``key`` the key within it (``properties.vendor-id``).
    """

    reference = "machine-model-invalid"

    def __init__(self, message: str, *, reference: str | None = None, file: str | None = None,
                 node: str | None = None, key: str | None = None,
                 hint: str | None = None) -> None:
        # The key is the diagnostic's own field (printed after the file); the node goes in
        # the message, once: "f.toml: properties.x: bad hex (in nub[3] Mac/PCI0@0/ARPT@1C,1)".
        text = _clip(message, 400) + (f" (in {_clip(node)})" if node else "")
        key = _clip(key) if key else key
        reference = reference or self.reference
        super().__init__(text, file=file, key=key,
                         hint=_clip(hint, 400) if hint else default_hint(reference),
                         subject=node, reference=reference)
        self.node = node
        self.reason = message

    def at_node(self, node: str, file: str | None = None) -> MachineModelError:
        """The same error placed at ``node`` (and in ``file``, when it had none), for one
        raised where the node was not known."""
        found = self.diagnostic
        return MachineModelError(self.reason, reference=found.reference, file=found.file or file,
                                 node=node, key=found.key, hint=found.hint)
