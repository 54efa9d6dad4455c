"""How registry values travel over the kernel socket: msgpack with libkern's types kept.

IOKit serialises properties with their OSObject types (``OSSerialize``). Here a message is one
msgpack map after a 4-byte big-endian length; an ``OSNumber`` travels as extension type 1 (its
width in one byte, its value in eight), a set (``OSSet``) as extension type 2 (a msgpack
array), everything else as msgpack's own types. This module is the one place that encodes and
decodes values, for IOKitLib's client (:mod:`iokit_sdk.iokitlib.wire`) and for driver
processes (``iokit_host.dext``). It imports nothing of IOKitLib, so a driver process that
never talks to the kernel as a program does starts without it.
"""

from __future__ import annotations

import gc
import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import msgpack

from iokit_sdk.values import OSNumber

__all__ = ["HEADER", "MAX_SET_DEPTH", "default", "ext_hook", "fit_integers", "gc_paused", "packb"]

#: The frame's length prefix.
HEADER = struct.Struct(">I")
_NUMBER = struct.Struct(">BQ")
_EXT_NUMBER = 1
_EXT_SET = 2
_U64 = (1 << 64) - 1
#: Registry values nest at most MAX_VALUE_DEPTH (128); messages add a few levels around them.
_FIT_DEPTH = 160


#: Numbers packed, by value and width: a registry snapshot holds the same few thousands of
#: times (every nub's vendor-id), and their packed form is made once.
_EXT_NUMBERS: dict[tuple[int, int], msgpack.ExtType] = {}


def default(value: object) -> Any:
    """msgpack's ``default`` under ``strict_types``: OSNumber (an int subclass), tuples and
    sets arrive here instead of being packed as their base type, so their libkern type
    survives."""
    if isinstance(value, OSNumber):
        key = (value, value.bits)  # (5 bits=16 equals 5 bits=64 as an int, not here)
        ext = _EXT_NUMBERS.get(key)
        if ext is None:
            ext = msgpack.ExtType(_EXT_NUMBER, _NUMBER.pack(value.bits, int(value)))
            if len(_EXT_NUMBERS) >= _NUMBERS_KEPT:
                _EXT_NUMBERS.clear()
            _EXT_NUMBERS[key] = ext
        return ext
    if isinstance(value, (frozenset, set)):
        return msgpack.ExtType(_EXT_SET, packb(list(value)))
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # an IntEnum (IOReturn) or another int subclass
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot travel over the kernel socket")


def packb(value: object) -> bytes:
    """``value`` in msgpack, libkern types kept (no length prefix)."""
    return msgpack.packb(value, default=default, strict_types=True, use_bin_type=True)  # type: ignore[no-any-return]


def fit_integers(value: Any, depth: int = 0) -> Any:
    """``value`` with every integer msgpack cannot carry (past 64 bits) cut to the 64 bits an
    ``OSNumber`` holds: a plain ``int`` property counts as 64 bits, as the kernel's does."""
    if isinstance(value, bool) or depth > _FIT_DEPTH:
        return value
    if isinstance(value, int):
        return value if -(1 << 63) <= value < 1 << 64 else OSNumber(value & _U64)
    if isinstance(value, Mapping):
        return {k: fit_integers(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fit_integers(v, depth + 1) for v in value]
    if isinstance(value, (frozenset, set)):
        return frozenset(fit_integers(v, depth + 1) for v in value)
    return value


def ext_hook(sets: bool = True) -> Callable[[int, bytes], object]:
    """msgpack's ``ext_hook`` for the two extension types; ``sets=False`` refuses type 2 (a
    kernel reading a client's request takes no sets). A set's members are decoded by a
    msgpack call of their own, so sets nest at most :data:`MAX_SET_DEPTH` deep."""
    #: Numbers decoded, by their bytes: a registry snapshot holds the same few thousands of
    #: times (every nub's vendor-id), and an OSNumber is immutable, so one serves them all.
    numbers: dict[bytes, OSNumber] = {}

    def at(depth: int) -> Callable[[int, bytes], object]:
        def hook(code: int, data: bytes) -> object:
            if code == _EXT_NUMBER:
                number = numbers.get(data)
                if number is not None:
                    return number
            if code == _EXT_NUMBER and len(data) == _NUMBER.size:
                bits, value = _NUMBER.unpack(data)
                number = OSNumber(value, bits)
                if len(numbers) >= _NUMBERS_KEPT:
                    numbers.clear()
                numbers[data] = number
                return number
            if code == _EXT_SET and sets:
                if depth >= MAX_SET_DEPTH:
                    raise ValueError(f"sets nested more than {MAX_SET_DEPTH} deep")
                items = msgpack.unpackb(data, raw=False, ext_hook=at(depth + 1))
                return frozenset(items) if isinstance(items, list) else items
            raise ValueError(f"unknown extension type {code}")
        return hook
    return at(0)


#: Distinct numbers an :func:`ext_hook` keeps for reuse (then it begins again).
_NUMBERS_KEPT = 4096

#: How deep sets may nest in sets on the wire. Each level's members are decoded by a msgpack
#: call of its own, holding some 40 KB of the C stack: 200 levels overflowed it (a
#: segmentation fault: one frame of a driver process's crashed the kernel reading it).
MAX_SET_DEPTH = 16


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large message is built or decoded: its
    thousands of new containers would otherwise trigger collections that walk the whole heap
    (a running kernel's is large), several times per message. Nothing cyclic is made.

    What was made meanwhile then joins the oldest generation without being walked
    (``gc.freeze`` and ``gc.unfreeze``: the generations' lists spliced, as before a fork):
    left young, the first allocation after the pause would start a collection walking all of
    it, and the older generations' collections it cascades into, costing more than the
    decoding did. A program that froze objects itself (before forking workers) keeps them
    frozen: then they are left young, as before."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():  # unfreeze would thaw what the program froze
            gc.freeze()
            gc.unfreeze()
        gc.enable()
