"""The kernel socket's message encoding, for the driver-process channel.

The same frames as :mod:`iokit_sdk.iokitlib.wire` (a 4-byte big-endian length, a msgpack map;
``OSNumber`` as extension type 1, sets as type 2), written here again for one reason: a driver
process must start fast, and importing ``wire`` imports all of ``iokit_sdk.iokitlib`` (IOKitLib's
client, its notification ports) first, which a driver process never uses; that import alone
cost a third of a launch. tests/dext/test_codec.py keeps the two byte-for-byte equal.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

import msgpack
from iokit_sdk.values import OSNumber

__all__ = ["HEADER", "ext_hook", "fit_integers", "new_packer"]

HEADER = struct.Struct(">I")
_NUMBER = struct.Struct(">BQ")
_EXT_NUMBER = 1
_EXT_SET = 2
_U64 = (1 << 64) - 1
_FIT_DEPTH = 160


def _default(value: object) -> Any:
    # strict_types: OSNumber (an int subclass), tuples and sets arrive here, so their libkern
    # type survives (wire._default, the same rules).
    if isinstance(value, OSNumber):
        return msgpack.ExtType(_EXT_NUMBER, _NUMBER.pack(value.bits, int(value)))
    if isinstance(value, (frozenset, set)):
        return msgpack.ExtType(_EXT_SET, msgpack.packb(list(value), default=_default,
                                                       strict_types=True, use_bin_type=True))
    for kind, convert in _CONVERSIONS:
        if isinstance(value, kind):
            return convert(value)
    raise TypeError(f"{type(value).__name__} cannot travel over the kernel socket")


_CONVERSIONS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (tuple, list), (bool, bool), (int, int), (str, str),
    ((bytes, bytearray, memoryview), bytes), (Mapping, dict), (list, list))


def new_packer() -> msgpack.Packer:
    """A packer for one channel (kept, not made per message)."""
    return msgpack.Packer(default=_default, strict_types=True, use_bin_type=True)


def ext_hook(code: int, data: bytes) -> object:
    if code == _EXT_NUMBER and len(data) == _NUMBER.size:
        bits, value = _NUMBER.unpack(data)
        return OSNumber(value, bits)
    if code == _EXT_SET:
        items = msgpack.unpackb(data, raw=False, ext_hook=ext_hook)
        return frozenset(items) if isinstance(items, list) else items
    raise ValueError(f"unknown extension type {code}")


def fit_integers(value: Any, depth: int = 0) -> Any:
    """``value`` with integers past 64 bits cut to an ``OSNumber``'s 64 (wire.fit_integers)."""
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
