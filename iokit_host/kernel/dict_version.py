"""A dictionary's version: one read that tells whether a ``dict`` may have changed.

No IOKit counterpart (a kext cannot reach the kernel's tables at all). Here the process-wide
checks (:mod:`.process_state`) compare ``builtins`` name by name, by identity (157 names,
about 6 us: half of all the settings' comparison, which a running kernel makes every few
requests). CPython gives each dictionary a version (``ma_version_tag``, PEP 509) that every
insertion, replacement and deletion moves on, from a counter shared by all dictionaries, so
an unchanged version means an unchanged dictionary and the comparison can be skipped. The
field is private: its place is found and proved on a probe dictionary before it is trusted
(it moves on each kind of change, and stays put on a read), and where it is not proved
(another interpreter or layout: CPython 3.14 no longer keeps it) :func:`version_of` gives
None, and the dictionary is compared every time.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

__all__ = ["Version", "version_of"]


class Version(Protocol):
    """A dictionary's version: ``value`` differs from any earlier one after it changed."""

    @property
    def value(self) -> int: ...


#: ``PyDictObject``: the object header (reference count, type), ``ma_used``, then
#: ``ma_version_tag``, each a word (CPython 3.11-3.13).
_USED_WORD, _TAG_WORD = 2, 3
_OFFSET: list[int | None] = []


def _tag_offset() -> int | None:
    """Where ``ma_version_tag`` lies, proved on a probe: ``ma_used`` counts the probe's items,
    and the tag moves on with an insertion, a replacement and a deletion, and not with a
    read or with another dictionary's change."""
    import ctypes

    word = ctypes.sizeof(ctypes.c_void_p)
    probe: dict[str, Any] = {}
    other: dict[str, Any] = {}
    used = ctypes.c_ssize_t.from_address(id(probe) + _USED_WORD * word)
    tag = ctypes.c_uint64.from_address(id(probe) + _TAG_WORD * word)
    seen = [tag.value]
    probe["a"] = 1  # an insertion
    seen.append(tag.value)
    probe["a"] = 2  # a replacement
    seen.append(tag.value)
    del probe["a"]
    seen.append(tag.value)
    probe["b"] = 1
    counted = used.value == len(probe) == 1
    before = tag.value
    _ = probe.get("b"), "b" in probe, list(probe)
    other["c"] = 1
    steady = tag.value == before
    moved = len(set(seen)) == len(seen)
    return _TAG_WORD * word if counted and moved and steady else None


def version_of(mapping: dict[Any, Any]) -> Version | None:
    """A view of ``mapping``'s version (the caller keeps ``mapping`` alive as long as the
    view), or None where this interpreter's is not proved."""
    if sys.implementation.name != "cpython" or type(mapping) is not dict:
        return None
    if not _OFFSET:
        _OFFSET.append(_tag_offset())
    offset = _OFFSET[0]
    if offset is None:
        return None
    import ctypes

    return ctypes.c_uint64.from_address(id(mapping) + offset)
