"""Damage in a dump: what was tolerated while reading it, one warning per kind.

IOKit has no importer, so there is no counterpart. Dumps people post are rarely what ``ioreg``
printed: serial numbers and MAC addresses are redacted, line endings converted, the text pasted
with an indent, the prompt line kept, the tail cut off. The importer reads what can be read and
records each kind of damage here, with how often it occurred and the first line it occurred on;
:meth:`DumpDamage.diagnostics` turns that into one warning per kind (``ioreg-dump-*``
references). With ``strict`` the first damage raises :class:`IoregDumpInvalid` instead: the
all-or-nothing reading of ``--strict`` / ``IOKIT_STRICT=1``. The one exception is text that is
not UTF-8: older Macs wrote user names that way, its bytes are kept, and the importer always
accepted it, so strict mode warns about it without refusing.
"""

from __future__ import annotations

from dataclasses import dataclass

from iokit_host.errors import Diagnostic, Severity
from iokit_host.ioreg_import.errors import IoregDumpInvalid

__all__ = [
    "BAD_CLASS_CHAIN",
    "BAD_ENTRY",
    "BAD_ID",
    "BAD_VALUE",
    "CLIPPED",
    "CUT_BLOCK",
    "HTML_ESCAPED",
    "INDENT",
    "LINE_ENDINGS",
    "NOISE",
    "NOT_UTF8",
    "NO_ROOT",
    "NUL",
    "QUOTES",
    "REDACTED",
    "REPEATED",
    "TOO_LARGE",
    "TRUNCATED",
    "WRAPPED",
    "DamageKind",
    "DumpDamage",
]


@dataclass(frozen=True, slots=True)
class DamageKind:
    """One kind of damage: its stable reference, what it is, what the importer did about it.

    :param strict_refuses: False for the one kind strict mode accepts (see the module doc).
    """

    reference: str
    what: str
    outcome: str
    hint: str
    strict_refuses: bool = True


LINE_ENDINGS = DamageKind(
    "ioreg-dump-line-endings", "lines end in CRLF or CR (saved by another system's editor)",
    "read as plain newlines", "nothing was lost; ioreg writes LF line endings")
NOT_UTF8 = DamageKind(
    "ioreg-dump-not-utf8", "lines that are not UTF-8",
    "read as Mac OS Roman, Windows-1252 or Latin-1, values kept",
    "check the strings on those lines; ioreg writes UTF-8", strict_refuses=False)
NUL = DamageKind(
    "ioreg-dump-nul", "NUL bytes (UTF-16 text saved without its byte-order mark, a mangled copy)",
    "removed", "ioreg writes no NUL bytes; attach the file ioreg wrote")
QUOTES = DamageKind(
    "ioreg-dump-curly-quotes", "lines whose quotes an editor made typographic (\u201c \u201d)",
    "read as straight quotes", "attach the file ioreg wrote, not a copy through a word processor")
WRAPPED = DamageKind(
    "ioreg-dump-wrapped", "lines broken at a fixed width (by a mail client, a terminal, fold)",
    "joined back", "attach the file ioreg wrote instead of pasting it into a mail")
INDENT = DamageKind(
    "ioreg-dump-indent", "lines indented differently from ioreg (a paste, tabs)",
    "the indentation was undone", "attach the file ioreg wrote (ioreg -lw0 > dump.txt)")
NOISE = DamageKind(
    "ioreg-dump-noise", "lines that are not part of an ioreg dump (shell prompt, pasted text)",
    "skipped", "remove the lines around the dump")
REDACTED = DamageKind(
    "ioreg-dump-redacted", "redacted values (masked with *, X, '<redacted>', '...')",
    "strings kept as printed, other values dropped",
    "matching on those properties cannot be checked; an unredacted dump can")
BAD_VALUE = DamageKind(
    "ioreg-dump-bad-value", "property values that cannot be read", "those properties dropped",
    "dump with ioreg -lw0 (-w0 keeps long lines whole)")
BAD_ENTRY = DamageKind(
    "ioreg-dump-bad-entry", "entry lines that cannot be placed or read",
    "those entries dropped", "dump with ioreg -lw0 and attach the file unedited")
BAD_CLASS_CHAIN = DamageKind(
    "ioreg-dump-bad-class-chain", "class chains (ioreg -i) that name a class twice, so that "
    "it would be its own ancestor, or run longer than 256 classes",
    "those links left out; the classes keep the superclass first recorded",
    "dump with ioreg -lw0 -i and attach the file unedited")
BAD_ID = DamageKind(
    "ioreg-dump-bad-id", "entry ids that cannot be read, or that a different entry already has",
    "those entries kept without an id (named by where they are printed)",
    "the ids were edited; an entry printed under several parents is only recognised by its id")
CLIPPED = DamageKind(
    "ioreg-dump-clipped", "entry lines clipped before the end of their '<class ...>' header",
    "class and name kept, the clipped part ignored", "dump with ioreg -lw0 (-w0: no clipping)")
CUT_BLOCK = DamageKind(
    "ioreg-dump-cut-block", "property blocks cut off by the next entry line",
    "the properties read before the cut kept", "lines are missing from the middle of the dump")
TRUNCATED = DamageKind(
    "ioreg-dump-truncated", "the dump ends inside an entry", "that entry dropped",
    "the end of the dump is missing; dump again and attach the whole file")
TOO_LARGE = DamageKind(
    "ioreg-dump-too-large", "more entries or bytes than any registry's dump has",
    "the rest of the dump was not read",
    "a registry has a few thousand entries and its dump a few megabytes: this one holds "
    "repeated or pasted text; remove it")
REPEATED = DamageKind(
    "ioreg-dump-repeated-entry", "entry lines repeated under the same parent or under "
    "themselves (not a re-print under another parent)", "merged into the first",
    "a line was duplicated while editing or pasting the dump")
HTML_ESCAPED = DamageKind(
    "ioreg-dump-html-escaped", "a dump saved from a web page, its markup escaped "
    "('&lt;class ...&gt;')", "unescaped", "attach the file ioreg wrote, not a web page's text")
MISPLACED_RESOURCES = DamageKind(
    "ioreg-dump-misplaced-resources", "IOResources printed below another entry than the "
    "platform entry", "moved back under the platform entry, with its subtree",
    "IOKit attaches IOResources to the platform-expert device; the dump's indentation was "
    "edited: attach the file ioreg wrote")
NO_ROOT = DamageKind(
    "ioreg-dump-no-root", "dump does not start at the registry root ('+-o Root')",
    "its first entry read as the platform entry",
    "the head of the dump is missing, or it was taken with ioreg -r")


@dataclass(slots=True)
class _Tally:
    count: int
    line: int
    detail: str
    lost: int = 0


class DumpDamage:
    """The damage met while reading one dump (see the module doc)."""

    __slots__ = ("_tallies", "source", "strict", "unit")

    def __init__(self, source: str, *, strict: bool, unit: str = "line") -> None:
        """:param unit: what a position counts: ``line`` in a text dump, ``entry`` in the
        property list ``ioreg -a`` writes (entries in document order)."""
        self.source = source
        self.strict = strict
        self.unit = unit
        self._tallies: dict[DamageKind, _Tally] = {}

    def note(self, kind: DamageKind, line: int, detail: str, *, count: int = 1) -> None:
        """Record ``count`` occurrences, the first at ``line``; under ``strict``, refuse the
        dump there."""
        if self.strict and kind.strict_refuses:
            raise IoregDumpInvalid(detail, file=self.source, key=f"{self.unit} {line}",
                                   hint=f"{kind.hint}; strict mode refuses a damaged dump, "
                                        f"without it the rest imports ({kind.outcome})")
        tally = self._tallies.get(kind)
        if tally is None:
            self._tallies[kind] = _Tally(count, line, detail)
        else:
            tally.count += count

    def lose(self, kind: DamageKind, entries: int) -> None:
        """Count ``entries`` dropped along with an occurrence of ``kind`` (its subtrees)."""
        if entries and kind in self._tallies:
            self._tallies[kind].lost += entries

    def kinds(self) -> frozenset[str]:
        """The references of the kinds met so far."""
        return frozenset(kind.reference for kind in self._tallies)

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """One warning per kind, in the order the kinds were first met."""
        return tuple(_warning(self.source, kind, tally, self.unit)
                     for kind, tally in self._tallies.items())


def _warning(source: str, kind: DamageKind, tally: _Tally, unit: str) -> Diagnostic:
    message = (f"{kind.what}: {tally.count}, the first at {unit} {tally.line} "
               f"({tally.detail}); {kind.outcome}")
    if tally.lost:
        message += f", with the {tally.lost} entries below them"
    return Diagnostic(kind.reference, message, file=source, key=f"{unit} {tally.line}",
                      hint=kind.hint, severity=Severity.WARNING,
                      context={"count": tally.count, "line": tally.line, "lost": tally.lost})
