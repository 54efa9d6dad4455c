"""Property value formatting as ioreg's ``cfshow`` prints it (IOKitTools ``ioreg.tproj/ioreg.c``).

ioreg reads each property as a CF object and prints it in one line:

==============  =========================================================================
type            printed as
==============  =========================================================================
string          ``"text"`` (no escaping, as ioreg); nothing at all for text CF could not
                give ioreg as a C string (see :func:`format_string`)
number          unsigned decimal of the value read as a signed 64-bit integer, ``0x..``
                with ``-x``. OSNumbers of up to 32 bits reach user space as CF SInt32
                (``IOCFUnserialize`` ``buildNumber``), so a 32-bit 0xFFFFFFFF prints as
                18446744073709551615; a 64-bit 0xFFFFFFFF prints as 4294967295. Both
                forms occur in the real dumps (``_STA`` vs ``Platform Memory Ranges``).
boolean         ``Yes`` / ``No``
data            ``<hex>``, or ``<"a","b">`` when it is a NUL-separated set of mostly
                printable strings (``cfdatashow``; never with ``-x``, never for 1 byte),
                whose bytes ioreg writes as they are (UTF-8 text reads as itself; other
                bytes are surrogate escapes, which the ``iokit`` command writes as bytes)
array           ``(a,b)``
dictionary      ``{"k"=v,"k2"=v2}``
set             ``[a,b]`` (sorted by printed form: CFSet order is its hash table's,
                which the model cannot work out, and the registry keeps built-in sets)
==============  =========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.values import OSNumber, number_bits

__all__ = ["cf_number", "data_strings", "format_data", "format_number", "format_string",
           "format_value", "member_key", "snapshot"]

_U64 = 1 << 64
_U32 = 1 << 32


def cf_number(value: int) -> int:
    """The signed 64-bit value ioreg's CFNumber holds for an OSNumber (or plain int).

    Widths up to 32 bits become SInt32, so their top bit is a sign bit; wider values become
    SInt64. Plain ints count as 64-bit, as the kernel's XML parser treats a sizeless integer.
    """
    if number_bits(value) <= 32:
        low = int(value) % _U32
        return low - _U32 if low >= 1 << 31 else low
    wide = int(value) % _U64
    return wide - _U64 if wide >= 1 << 63 else wide


def format_number(value: int, hex_numbers: bool = False) -> str:
    """``%qu`` (or ``0x%qx``) of the CF value read as ``long long``."""
    unsigned = cf_number(value) % _U64
    return f"0x{unsigned:x}" if hex_numbers else str(unsigned)


def data_strings(data: bytes) -> list[str] | None:
    """The strings ``cfdatashow`` would print for ``data``, or None when it prints hex.

    Faithful to the x86 build of ``cfdatashow``: strings are separated by single NULs; a
    second NUL in a row ends detection (so zero padding after a string means hex, which is
    what the real dumps show); at most 1 in 5 characters may be high-order symbols (128..254).
    """
    length = len(data)
    if length <= 1:
        return None
    normal = symbol = 0
    index = 0
    while index < length:
        if data[index] == 0:
            break
        while index < length:
            byte = data[index]
            if 0x20 <= byte <= 0x7E:
                normal += 1
            elif 128 <= byte <= 254:
                symbol += 1
            else:
                break
            index += 1
        if index < length and data[index] == 0:
            index += 1
            continue
        break
    if index < length or not normal or (normal >> 2) < symbol:
        return None
    return [_raw_text(part) for part in data.split(b"\x00") if part]


def _raw_text(part: bytes) -> str:
    """What ioreg's ``print("%c")`` of each byte writes: UTF-8 text (a Mac's name in NVRAM,
    ``Admin’s MacBook Pro``) as itself; a byte that is not UTF-8 as a surrogate escape,
    which the ``iokit`` command writes as that byte (``cli.console``), as ioreg did."""
    return part.decode("utf-8", "surrogateescape")


def format_string(value: str) -> str:
    """``cfstringshow``: ``"text"``, or nothing where CoreFoundation gave ioreg no C string.

    ioreg prints ``CFStringGetCStringPtr(UTF8)`` or, failing that, ``CFStringGetCString`` into
    a buffer of one byte per UTF-16 unit (plus the NUL), and nothing when both fail. The
    first gave the 8-bit store of a string CF keeps in Mac OS Roman (the real dumps show such
    names' ``’`` and ``—`` as their Mac OS Roman bytes); any other text with a
    character past ASCII needs more bytes in UTF-8 than that buffer holds, so it printed as
    nothing (``"Product" = `` for a Bluetooth device's name in Cyrillic). ``%s`` stops at a NUL.
    """
    if value.isascii() or _mac_roman(value):
        end = value.find("\x00")
        return f'"{value}"' if end < 0 else f'"{value[:end]}"'
    return ""


def _mac_roman(value: str) -> bool:
    try:
        value.encode("mac_roman")
    except UnicodeEncodeError:
        return False
    return True


def format_data(data: bytes, hex_numbers: bool = False) -> str:
    strings = None if hex_numbers else data_strings(data)
    if strings is None:
        return f"<{data.hex()}>"
    return "<" + ",".join(f'"{s}"' for s in strings) + ">"


def member_key(item: Any) -> tuple[str, str]:
    """Where a set's member goes when a set is written in order (``-a``, ``--json``): by its
    printed form, then by its ``repr``, as two members may print alike (two names printed as
    nothing, a 32-bit 0xFFFFFFFF and a 64-bit 2**64-1), and the order must not then depend on
    the hashes of the run."""
    return format_value(item), repr(item)


def snapshot(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    """``mapping``'s items as they are now. A driver's own thread may change a property while
    it is printed (the registry's copy of a container is reachable through ``properties``);
    copying a ``dict`` is one C call the thread cannot interleave (under the GIL), where
    iterating it would raise "dictionary changed size during iteration"."""
    return list((mapping.copy() if type(mapping) is dict else dict(mapping)).items())


def format_value(value: Any, hex_numbers: bool = False) -> str:
    """One property value exactly as ioreg prints it after ``"key" = ``."""
    kind = type(value)
    # The common scalars without the parts list and the isinstance chain: ``ioreg -l``
    # formats every property of every entry.
    if kind is str and value.isascii() and "\x00" not in value:
        return f'"{value}"'
    if kind is int or kind is OSNumber:
        return format_number(value, hex_numbers)
    parts: list[str] = []
    _append(parts, value, hex_numbers)
    return "".join(parts)


def _append(parts: list[str], value: Any, hex_numbers: bool) -> None:
    # Joined once at the end: nested containers would otherwise copy strings quadratically.
    if isinstance(value, bool):
        parts.append("Yes" if value else "No")
    elif isinstance(value, int):
        parts.append(format_number(value, hex_numbers))
    elif isinstance(value, str):
        parts.append(f'"{value}"' if value.isascii() and "\x00" not in value
                     else format_string(value))
    elif isinstance(value, (bytes, bytearray)):
        parts.append(format_data(bytes(value), hex_numbers))
    elif isinstance(value, Mapping):
        _append_dict(parts, value, hex_numbers)
    elif isinstance(value, (frozenset, set)):
        items = sorted(format_value(item, hex_numbers) for item in value)
        parts.append("[" + ",".join(items) + "]")
    elif isinstance(value, (list, tuple)):
        parts.append("(")
        for index, item in enumerate(tuple(value)):  # a snapshot, as in :func:`snapshot`
            if index:
                parts.append(",")
            _append(parts, item, hex_numbers)
        parts.append(")")
    else:
        parts.append("<unknown object>")


def _append_dict(parts: list[str], value: Mapping[Any, Any], hex_numbers: bool) -> None:
    parts.append("{")
    for index, (key, item) in enumerate(snapshot(value)):
        if index:
            parts.append(",")
        parts.append(f'"{key}"=')
        _append(parts, item, hex_numbers)
    parts.append("}")
