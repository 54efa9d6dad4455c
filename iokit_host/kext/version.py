"""Kext versions: libkern's ``OSKextVersion`` parse, format and compatibility rules.

A port of ``OSKextParseVersionString`` and ``OSKextVersionGetString`` (libkern/OSKextVersion.c):
``MAJOR[.MINOR[.REVISION]][STAGE LEVEL]`` with at most 4/4/4 digits, stages
``d`` < ``a`` < ``b`` < ``f``/``fc`` < release, a level of 1-3 digits up to 255 (``fc0`` is
invalid), encoded as ``major·10^12 + minor·10^8 + revision·10^4 + stage·10^3 + level`` so that
comparison is plain integer comparison.

Compatibility (IOKIT_SEMANTICS §5.3) differs between the kernel and user space. The host uses
the **user-space rule** that kmutil/kextd enforce when choosing libraries:
``0 < compatible_version <= requested <= version``. The kernel rule (``requested <= version``
and ``compatible_version <= version``, never checking the lower bound) is available as
``rule="kernel"`` for tests and comparisons.
"""

from __future__ import annotations

import re
from typing import Literal

from iokit_host.errors import IOKitError, quoted

__all__ = [
    "INVALID",
    "MISSING",
    "KextVersionError",
    "format_version",
    "is_compatible",
    "parse_version",
    "try_parse_version",
]

INVALID = -1
MISSING = 0

_MAJOR_MULT = 10**12
_MINOR_MULT = 10**8
_REVISION_MULT = 10**4
_STAGE_MULT = 10**3

_DEVELOPMENT, _ALPHA, _BETA, _CANDIDATE, _RELEASE = 1, 3, 5, 7, 9
_STAGE_LETTERS = {"d": _DEVELOPMENT, "a": _ALPHA, "b": _BETA, "f": _CANDIDATE}
_STAGE_NAMES = {_DEVELOPMENT: "d", _ALPHA: "a", _BETA: "b", _CANDIDATE: "f", _RELEASE: ""}
_DIGITS = "0123456789"
_SPACE = " \t\r\n\0"
_COMPONENT_DIGITS = 4
_LEVEL_DIGITS = 3
_MAX_LEVEL = 255

Rule = Literal["user", "kernel"]


class KextVersionError(IOKitError, ValueError):
    """A string that is not a valid kext version (``OSKextParseVersionString`` returns -1)."""

    reference = "kext-version-invalid"


class _Scanner:
    """A cursor over a NUL-terminated copy of the string, as the C code walks ``char *``."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text + "\0"
        self.pos = 0

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else "\0"


#: ASCII digits only, as the C code's ``'0'..'9'`` tests: ``\d`` would take ``１.０`` too.
_PLAIN = re.compile(r"([0-9]{1,4})(?:\.([0-9]{1,4})(?:\.([0-9]{1,4}))?)?")


def try_parse_version(text: object) -> int:
    """The OSKextVersion value of ``text``: -1 when invalid, as the C function returns."""
    if not isinstance(text, str) or not text:
        return INVALID
    plain = _PLAIN.fullmatch(text)
    if plain is not None:  # the common release form, without the character walk
        major, minor, revision = (int(part) if part else 0 for part in plain.groups())
        return _encode([major, minor, revision], _RELEASE, 0)
    scan = _Scanner(text)
    if scan.peek() not in _DIGITS:
        return INVALID
    parts = [0, 0, 0]
    for index in range(3):
        state = _scan_component(scan, parts, index)
        if state == "invalid":
            return INVALID
        if state == "finish":
            return _encode(parts, _RELEASE, 0)
        if state == "stage":
            break
    return _scan_stage(scan, parts)


def _scan_component(scan: _Scanner, parts: list[int], index: int) -> str:
    """Scan MAJOR, MINOR or REVISION; return 'next', 'stage', 'finish' or 'invalid'."""
    digits = 0
    while digits < _COMPONENT_DIGITS:
        char = scan.peek()
        if char in _SPACE:
            return "finish"
        if char in _DIGITS:
            parts[index] = parts[index] * 10 + int(char)
            scan.pos += 1
            digits += 1
        elif char == "." and index < 2:
            scan.pos += 1
            return "next"
        elif char in _STAGE_LETTERS:
            return "stage"
        else:
            return "invalid"
    # Four digits scanned: a '.' may follow (then the next part), a fifth digit may not.
    char = scan.peek()
    if char == ".":
        scan.pos += 1
        return "next" if index < 2 else "stage"
    return "invalid" if char in _DIGITS else ("next" if index < 2 else "stage")


def _scan_stage(scan: _Scanner, parts: list[int]) -> int:
    if scan.peek() in _SPACE:
        return _encode(parts, _RELEASE, 0)
    stage = _stage_for(scan)
    if stage is None:
        return INVALID
    level = digits = 0
    while digits < _LEVEL_DIGITS:
        char = scan.peek()
        if char in _SPACE:
            if not digits:
                return INVALID
            break
        if char not in _DIGITS:
            return INVALID
        level = level * 10 + int(char)
        scan.pos += 1
        digits += 1
    else:
        if scan.peek() not in _SPACE:
            return INVALID
    if level > _MAX_LEVEL or (stage == _CANDIDATE and level == 0):
        return INVALID
    return _encode(parts, stage, level)


def _stage_for(scan: _Scanner) -> int | None:
    """``__OSKextVersionStageForString``: a stage letter must be followed by a digit."""
    letter = scan.peek()
    if letter not in _STAGE_LETTERS:
        return None
    if scan.peek(1) in _DIGITS:
        scan.pos += 1
        return _STAGE_LETTERS[letter]
    if letter == "f" and scan.peek(1) == "c" and scan.peek(2) in _DIGITS:
        scan.pos += 2
        return _CANDIDATE
    return None


def _encode(parts: list[int], stage: int, level: int) -> int:
    major, minor, revision = parts
    return (major * _MAJOR_MULT + minor * _MINOR_MULT + revision * _REVISION_MULT
            + stage * _STAGE_MULT + level)


def parse_version(text: str, *, file: str | None = None, key: str | None = None) -> int:
    """Parse a kext version string into its OSKextVersion integer.

    :raises KextVersionError: when ``text`` does not follow the grammar.
    """
    value = try_parse_version(text)
    if value == INVALID:
        raise KextVersionError(
            f"{quoted(text)} is not a valid kext version", file=file, key=key,
            hint="use MAJOR[.MINOR[.REVISION]][d|a|b|fc LEVEL], at most 4 digits per part, "
                 "a level of 1..255 (fc0 is invalid), e.g. 1.2.3b4")
    return value


def format_version(value: int) -> str:
    """``OSKextVersionGetString``: always ``.minor``, ``.revision`` only when nonzero."""
    if value < 0:
        return "(invalid)"
    if value == 0:
        return "(missing)"
    major, rest = divmod(value, _MAJOR_MULT)
    minor, rest = divmod(rest, _MINOR_MULT)
    revision, rest = divmod(rest, _REVISION_MULT)
    stage, level = divmod(rest, _STAGE_MULT)
    text = f"{major}.{minor}" + (f".{revision}" if revision else "")
    name = _STAGE_NAMES.get(stage)
    if name is None:
        return "(invalid)"
    return text + (f"{name}{level}" if name else "")


def is_compatible(version: int, compatible_version: int | None, requested: int,
                  *, rule: Rule = "user") -> bool:
    """Whether a library at ``version`` with ``compatible_version`` satisfies ``requested``.

    ``rule="user"`` is ``OSKextIsCompatibleWithVersion`` in IOKitUser (kmutil's rule and the
    host's): ``0 < compat <= requested <= version``. ``rule="kernel"`` is xnu's
    ``OSKext::isCompatibleWithVersion``: ``compat <= version`` and ``requested <= version``.
    A library without a compatible version satisfies nothing under either rule.
    """
    if compatible_version is None or compatible_version <= 0 or version <= 0 or requested <= 0:
        return False
    if compatible_version > version or requested > version:
        return False
    return rule == "kernel" or compatible_version <= requested
