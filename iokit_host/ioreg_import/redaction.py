"""Redacted values: serial numbers and MAC addresses masked before a dump is posted.

No IOKit counterpart. People mask what identifies their Mac before sharing ``ioreg`` output:
``"IOPlatformSerialNumber" = "C02****"``, ``"IOMACAddress" = <3c07****c7a5>``, numbers
replaced by ``XXXX``, addresses by ``XX:XX:XX:XX:XX:XX``, whole values by ``<redacted>``,
``[REMOVED]``, ``"..."`` or ``<...>``. ioreg itself never prints ``***``, a run of four ``X`` or
``XX:XX`` outside a string, and real strings almost never hold them, so either marks a value as
redacted: a string stays as printed (it is still a string), anything else cannot be read and is
dropped. Two tests, because the cost of a wrong guess differs:

- :func:`looks_redacted` for a value that reads (a string): only marks no real string holds,
  or a string that is nothing but a mask word (``"<redacted>"``, ``"..."``), so a real
  ``"Loading..."`` is not reported as redacted;
- :func:`looks_masked` for a value that cannot be read anyway: any of those, or a mask word or
  filler (``redacted``, ``removed``, ``hidden``, ``...``, ``###``, ``---``, a lone ``*``)
  anywhere in it, so the warning says "redacted" rather than "cannot be read".
"""

from __future__ import annotations

import re

__all__ = ["looks_masked", "looks_redacted"]

_MASK = re.compile(r"\*{3,}|[xX]{4,}|(?:[xX]{2}[:-]){2,}[xX]{2}")
_WORDS = r"redacted|removed|hidden|censored|private|anonymi[sz]ed|snip|omitted|deleted"
#: A string that is a mask word and nothing else (brackets and filler allowed around it).
_MASK_ONLY = re.compile(rf"[\s<\[({{]*(?:{_WORDS}|\.{{3,}}|\u2026)[\s>\])}}]*", re.IGNORECASE)
_FILLER = re.compile(rf"{_WORDS}|\.{{3}}|\u2026|#{{3,}}|-{{3,}}|\?{{3,}}", re.IGNORECASE)
#: A word character: a value without one that holds a ``*`` is a lone star among filler. (As
#: one pattern, ``^\W*\*\W*$``, the engine tried the rest of the value from every star:
#: 80 KB of ``* * *`` took 18 s, a megabyte most of an hour.)
_WORD = re.compile(r"\w")


def looks_redacted(value_text: str) -> bool:
    """True when a printed value holds a mark no real value holds (``***``, ``XXXX``,
    ``XX:XX:XX``), or is a quoted mask word alone (``"<redacted>"``, ``"..."``)."""
    if _may_hold_a_mask(value_text) and _holds_a_mask(value_text):
        return True
    text = value_text.strip()
    return len(text) >= 2 and text[0] == text[-1] == '"' and (
        _MASK_ONLY.fullmatch(text[1:-1]) is not None)


def _holds_a_mask(text: str) -> bool:
    """``_MASK.search(text)``, tried only where a mark can start: every match of it starts
    with ``***`` or two x's, found at memory speed, where the search tries each character
    (a 30 KB ``IOKitDiagnostics`` holds driver names like ``AMDRV6xx``)."""
    for start in _MARK_STARTS:
        at = text.find(start)
        while at >= 0:
            if _MASK.match(text, at) is not None:
                return True
            at = text.find(start, at + 1)
    return False


_MARK_STARTS = ("***", "xx", "XX", "xX", "Xx")


def _may_hold_a_mask(text: str) -> bool:
    """Whether :data:`_MASK` can match at all: each of its marks holds ``***`` or two x's.
    Substring tests run at memory speed; the search they spare runs on every value of a
    dump (one of 400 KB), and almost none holds either."""
    if "*" in text and "***" in text:  # one character first: that search is the fastest
        return True
    if "x" not in text and "X" not in text:
        return False
    # One search for the four cases: a search for two characters is far slower than for one,
    # and slower than lowering the text (which never loses an x; one it made is only a
    # candidate that _holds_a_mask refuses).
    return "xx" in text.lower()


def looks_masked(value_text: str) -> bool:
    """True when a value that cannot be read was masked (see the module doc)."""
    return (looks_redacted(value_text) or _FILLER.search(value_text) is not None
            or ("*" in value_text and _WORD.search(value_text) is None))
