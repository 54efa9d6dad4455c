"""Manifest value types in the kernel's terms: which plist values libkern can hold, and their names.

An Info.plist is written for CoreFoundation, which also knows ``<real>`` and ``<date>``; a binary
plist can further hold NSKeyedArchiver UIDs and dictionary keys that are not strings. The
kernel's containers hold none of these (OSNumber is an integer, there is no date object, and
an OSDictionary's keys are symbols, C strings without NUL: IOKIT_SEMANTICS.md §4.5), so a
personality carrying one
cannot become a driver's property table. :func:`find_unsupported` finds the first such value,
and :func:`describe` names any value in the plist vocabulary for diagnostics
("an array", "an integer (5)").
"""

from __future__ import annotations

import datetime as dt
import plistlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from iokit_host.kext.plistvalues import UnreadableValue

__all__ = ["Unsupported", "describe", "find_unsupported", "kind"]

_KINDS: tuple[tuple[type, str], ...] = (
    (str, "string"), (bool, "boolean"), (int, "integer"), (float, "real"), (bytes, "data"),
    (dt.datetime, "date"), (list, "array"), (tuple, "array"), (Mapping, "dictionary"),
    (plistlib.UID, "UID"), (UnreadableValue, "unreadable value"),
)
#: Kinds the kernel's containers can hold (OSString, OSBoolean, OSNumber, OSData, OSArray,
#: OSDictionary).
_KERNEL_KINDS = frozenset({"string", "boolean", "integer", "data", "array", "dictionary"})
_SHOWN = 40


#: Exact types of the common kinds, looked up before the isinstance walk of :data:`_KINDS`.
_EXACT = {str: "string", bool: "boolean", int: "integer", bytes: "data", list: "array",
          dict: "dictionary", float: "real", dt.datetime: "date"}
#: Exact types of values the kernel can hold with nothing inside to check.
_KERNEL_SCALARS = frozenset({str, bool, int, bytes})
_STRINGS = frozenset({str})


def kind(value: object) -> str:
    """The plist name of ``value``'s type (``string``, ``real``, ``dictionary``, ...)."""
    exact = _EXACT.get(type(value))
    if exact is not None:
        return exact
    return next((name for cls, name in _KINDS if isinstance(value, cls)), type(value).__name__)


def describe(value: object) -> str:
    """``value`` for a message: its kind with an article, and a short scalar's value."""
    name = kind(value)
    article = "an" if name[0] in "aeiou" else "a"
    if name in ("array", "dictionary"):
        return f"{article} {name}"
    if isinstance(value, UnreadableValue):  # its reason quotes the text, clipped
        return f"{article} {name} ({value.reason})"
    shown = value.isoformat() if isinstance(value, dt.datetime) else repr(value)
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN - 1] + "…"
    return f"{article} {name} ({shown})"


@dataclass(frozen=True, slots=True)
class KeyType:
    """What a key the kernel reads with ``OSDynamicCast`` takes, and how to say it: the
    diagnostic's reference, the expected type in words, the test and the hint."""

    reference: str
    expected: str
    accepts: Callable[[Any], bool]
    hint: str


def is_integer(value: object) -> bool:
    """An ``OSNumber`` in a plist: an int, not a bool (Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A value the kernel cannot hold: where it is (``Key.sub[2]``) and what it is."""

    path: str
    got: str


def find_unsupported(value: object, path: str) -> Unsupported | None:
    """The first value under ``value`` (depth first, in order) that the kernel cannot hold.

    Walks with an explicit stack and visits each container once, so a deep, shared or cyclic
    value (a binary plist can make all three) costs one pass and no recursion. Manifests are
    read on every cold boot and almost never hold such a value, so a first pass only asks
    whether there is one; the pass that names its path runs when there is.
    """
    if _holds_only_kernel_values(value):
        return None
    found: list[Unsupported] = []
    _walk(value, (path, found))
    return found[0]


def _holds_only_kernel_values(value: object) -> bool:
    """The first pass: no paths, plain dictionaries and lists on the fast path."""
    if (type(value) is dict and _STRINGS.issuperset(map(type, value))
            and _KERNEL_SCALARS.issuperset(map(type, value.values()))
            and "\0" not in "".join(value)):
        return True  # most personalities: string keys to scalars, told in C
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if type(item) in _KERNEL_SCALARS:
            continue
        if type(item) is dict and isinstance(item, dict):
            if id(item) in seen:
                continue
            seen.add(id(item))
            for key in item:  # a loop, not any(<generator>): this runs on every cold boot
                if type(key) is not str or "\0" in key:
                    return False
            stack.extend(item.values())
        elif type(item) is list and isinstance(item, list):
            if id(item) in seen:
                continue
            seen.add(id(item))
            stack.extend(item)
        elif _walk(item, None):  # rare: tuples, other mappings, or a value the kernel cannot hold
            return False  # (and the rest of the stack still to check when it holds none)
    return True


def _walk(value: object, report: tuple[str, list[Unsupported]] | None) -> bool:
    """True when ``value`` holds something the kernel cannot; with ``report``, also record
    where (paths cost a string per element, so only the second pass builds them)."""
    stack: list[tuple[object, str]] = [(value, report[0] if report else "")]
    seen: set[int] = set()
    while stack:
        item, where = stack.pop()
        if type(item) in _KERNEL_SCALARS:
            continue
        name = kind(item)
        if name not in _KERNEL_KINDS:
            return _found(report, where, describe(item))
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Mapping):
            # A list, not next(..., None): a binary plist's null object can be a key itself.
            bad_keys = [k for k in item if type(k) is not str or "\0" in k][:1]
            if bad_keys:
                return _found(report, where, f"a dictionary key that is {describe(bad_keys[0])}"
                              + (" holding a NUL" if isinstance(bad_keys[0], str) else ""))
            children = list(item.items())
            if report is None:
                stack += [(v, "") for _, v in children]
            else:
                stack += [(v, f"{where}.{k}") for k, v in reversed(children)]
        elif isinstance(item, (list, tuple)):
            if report is None:
                stack += [(v, "") for v in item]
            else:
                stack += [(v, f"{where}[{i}]") for i, v in reversed(list(enumerate(item)))]
    return False


def _found(report: tuple[str, list[Unsupported]] | None, where: str, got: str) -> bool:
    if report is not None:
        report[1].append(Unsupported(where, got))
    return True
