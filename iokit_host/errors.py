"""Errors and diagnostics: what went wrong, where, and what to do, with a stable reference.

IOKit reports problems as log lines and return codes (``kOSKextReturn*``, "Couldn't alloc
class"); here every problem has a kebab-case ``reference`` that tests and scripts can rely on,
the file and key it concerns, and a hint. A :class:`Diagnostic` is a report that lets the rest
go on (a refused kext, a failed driver); an :class:`IOKitError` is raised when the caller
cannot go on. Only the CLI renders them.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["Diagnostic", "IOKitError", "Severity", "printable", "quoted"]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One reported problem.

    :param reference: stable kebab-case id, e.g. ``kext-dependency-cycle``.
    :param message: what is wrong, in one sentence.
    :param file: the file it was found in, when there is one.
    :param key: the key, path or node it concerns (``IOKitPersonalities.Foo.IOProbeScore``).
    :param hint: what to do about it.
    :param subject: what it is about (a bundle id, a registry path, a driver class).
    """

    reference: str
    message: str
    file: str | None = None
    key: str | None = None
    hint: str | None = None
    subject: str | None = None
    severity: Severity = Severity.ERROR
    context: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        where = ": ".join(printable(part) for part in (self.file, self.key) if part)
        message = printable(self.message)
        text = f"{self.severity.value}[{self.reference}]: "
        text += f"{where}: {message}" if where else message
        return text + (f"\n  hint: {printable(self.hint)}" if self.hint else "")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"reference": self.reference, "severity": self.severity.value,
                                "message": self.message}
        for name in ("file", "key", "hint", "subject"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


class IOKitError(Exception):
    """An error the caller cannot go on from; carries a :class:`Diagnostic`.

    Subclasses set ``reference``; construct with a message and the same keywords as
    :class:`Diagnostic`.
    """

    reference = "iokit-error"

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 hint: str | None = None, subject: str | None = None,
                 reference: str | None = None) -> None:
        self.diagnostic = Diagnostic(reference or self.reference, message, file=file, key=key,
                                     hint=hint, subject=subject)
        super().__init__(str(self.diagnostic))

    @property
    def ref(self) -> str:
        return self.diagnostic.reference


_QUOTED = reprlib.Repr()
_QUOTED.maxstring = _QUOTED.maxother = 60
_QUOTED.maxlist = _QUOTED.maxdict = 4
#: The longest quotation: reprlib bounds each level (4 items of 60 characters), not the whole,
#: which nested lists multiply (4 x 4 x 4 strings of 60 characters, 4 KB).
_QUOTED_MAX = 160


def printable(text: str) -> str:
    """``text`` with each character a terminal would act on rather than show (a newline, an
    escape sequence's ESC, a line separator) written as its escape: a name from a file cannot
    forge a line of its own (``\\nerror[fake]: ...``) or retitle the terminal."""
    if text.isprintable():  # nearly always: one C loop
        return text
    return "".join(char if char.isprintable() or "\udc80" <= char <= "\udcff"  # a byte kept
                   else repr(char)[1:-1] for char in text)  # by surrogateescape: printed as is


def did_you_mean(word: str, known: Sequence[str]) -> str | None:
    """The hint for an unknown name: ``did you mean 'x'?`` with the known name it looks most
    like; None when none looks like it."""
    import difflib  # only for a misspelt name

    close = difflib.get_close_matches(word, known, n=1)
    return f"did you mean '{close[0]}'?" if close else None


def quoted(value: object) -> str:
    """A value from a user's file as a diagnostic quotes it: short, whatever its size or
    nesting (a 5 MB string is not echoed back, nor a list of lists of them). For plain values
    only: a driver's object may run its own ``__repr__`` (see
    :func:`iokit_host.kernel.driver_results.short_repr`)."""
    text = _QUOTED.repr(value)
    return text if len(text) <= _QUOTED_MAX else text[:_QUOTED_MAX - 3] + "..."
