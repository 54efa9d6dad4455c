"""Typed registry property values: the libkern container types (OSNumber, OSString, OSData, ...).

IOKit stores properties as libkern objects. Here the Python types stand in for them:

======================  ==========================================================
libkern                 here
======================  ==========================================================
``OSNumber``            :class:`OSNumber`, an ``int`` that remembers its bit width
``OSString``/``OSSymbol`` ``str``
``OSData``              ``bytes``
``OSBoolean``           ``bool``
``OSArray``             ``list`` (or ``tuple``)
``OSDictionary``        ``dict`` with ``str`` keys
``OSSet``               ``frozenset``
======================  ==========================================================

A plain ``int`` is accepted wherever an ``OSNumber`` is and counts as 64 bits, as the
kernel's XML parser treats an ``<integer>`` without a ``size`` attribute.

Containers nest at most :data:`MAX_VALUE_DEPTH` deep and never contain themselves: values
read from files are checked where they are read (:func:`check_shape`), values a driver sets
when it sets them (:func:`check_value`), so everything that walks a value later may recurse.
What a driver sets is kept as a copy made of the built-in types alone
(:func:`iokit_sdk.plain.plain_value`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_VALUE_DEPTH",
    "MAX_VALUE_ITEMS",
    "SCALAR_TYPES",
    "OSNumber",
    "PropertyNulError",
    "PropertyShapeError",
    "PropertyTextError",
    "PropertyTypeError",
    "PropertyValue",
    "check_shape",
    "check_symbol",
    "check_text",
    "check_value",
    "equality_key",
    "merges_in_a_set",
    "number_bits",
    "values_equal",
]

_WIDTHS = (8, 16, 32, 64)

#: The deepest nesting of containers (arrays, dictionaries, sets) a property value, or a
#: property list holding such values, may have: ``[[1]]`` is 2 deep. The one limit for every
#: reader (plists, machine models, dumps) and for ``set_property``. Real manifests and
#: registries nest under 10; the kernel's unserializers bound nesting too, and a bound lets
#: everything that walks a value (matching, ioreg, JSON) recurse without fear.
MAX_VALUE_DEPTH = 128
#: The most items a value may hold counted as a tree: a binary plist can refer to one array
#: many times, so a small file can stand for an enormous tree.
MAX_VALUE_ITEMS = 1 << 18


class OSNumber(int):
    """An unsigned number of 8, 16, 32 or 64 bits, masked to its width as ``OSNumber::init`` does.

    It is an ``int``, so it compares, hashes and does arithmetic by value: a 16-bit 5 equals a
    64-bit 5, which is ``OSNumber::isEqualTo``. Arithmetic results are plain ``int``.
    """

    bits: int

    def __new__(cls, value: int, bits: int = 64) -> OSNumber:  # noqa: PYI034 (int subclass)
        if bits not in _WIDTHS:
            raise ValueError(f"OSNumber width must be one of {_WIDTHS}, not {bits}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"OSNumber needs an int, not {type(value).__name__}")
        self = super().__new__(cls, value & ((1 << bits) - 1))
        self.bits = bits
        return self

    def __repr__(self) -> str:
        return f"OSNumber({int(self)}, bits={self.bits})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (OSNumber, (int(self), self.bits))


PropertyValue = (
    OSNumber | int | str | bytes | bool | list[Any] | tuple[Any, ...] | dict[str, Any]
    | frozenset[Any]
)


class PropertyTypeError(TypeError):
    """A value that is not one of the registry's property types, with the path to it."""

    def __init__(self, path: str, value: object) -> None:
        super().__init__(f"{path}: {type(value).__name__} is not a registry property type")
        self.path = path
        self.value = value


class PropertyShapeError(PropertyTypeError):
    """A value nested deeper than :data:`MAX_VALUE_DEPTH`, containing itself, or larger than
    :data:`MAX_VALUE_ITEMS`. ``path`` leads to where it happened, ``depth`` is how deep that is.
    """

    def __init__(self, path: str, value: object, reason: str, depth: int) -> None:
        TypeError.__init__(self, f"{path}: {reason}")
        self.path = path
        self.value = value
        self.reason = reason
        self.depth = depth


class PropertyTextError(PropertyTypeError, ValueError):
    """A string no ``OSString`` or ``OSSymbol`` can hold: one with a lone surrogate (a code
    point from U+D800 to U+DFFF that is not half of a pair, as ``"\\ud800"`` or a
    ``surrogateescape``-decoded byte gives), which UTF-8, the registry's encoding, cannot
    encode: every printer, and the running kernel's protocol, would fail on it. A value error
    by nature, a :class:`PropertyTypeError` for those that catch what a property refuses."""

    def __init__(self, path: str, value: str) -> None:
        index = next(i for i, char in enumerate(value) if "\ud800" <= char <= "\udfff")
        ValueError.__init__(self, f"{path}: the string has a lone surrogate ({value[index]!r} at "
                            f"index {index}), which is not text: UTF-8 cannot encode it")
        self.path = path
        self.value = value


class PropertyNulError(PropertyTextError):
    """A key or name holding a NUL character: an ``OSSymbol`` is a C string, which ends at
    its first NUL (``setName("a\\0b")`` names the entry ``a``), and ``ioreg`` would print
    the rest raw. Refused rather than cut, as a cut name is a driver's bug made silent."""

    def __init__(self, path: str, value: str) -> None:
        ValueError.__init__(self, f"{path}: {value[:40]!r} holds a NUL character at index "
                            f"{value.index(chr(0))}; keys and names are C strings")
        self.path = path
        self.value = value


def check_symbol(value: str, path: str = "key") -> str:
    """:func:`check_text` for a key or name (an ``OSSymbol``): a NUL is refused too
    (:class:`PropertyNulError`)."""
    if "\0" in value:
        raise PropertyNulError(path, value)
    return check_text(value, path)


def check_text(value: str, path: str = "value") -> str:
    """``value`` when it is text an ``OSString`` can hold, else :class:`PropertyTextError`.
    An ASCII string (nearly every one) costs one flag read; ``str``'s own methods are used, as
    a subclass's may be a driver's code."""
    if str.isascii(value):
        return value
    try:
        str.encode(value, "utf-8")
    except UnicodeEncodeError:
        raise PropertyTextError(path, value) from None
    return value


def number_bits(value: int) -> int:
    """The bit width of a number property: its own for an :class:`OSNumber`, else 64."""
    return value.bits if isinstance(value, OSNumber) else 64


#: The exact types of scalar property values (OSString, OSData, OSBoolean, OSNumber).
SCALAR_TYPES = frozenset({str, bytes, bool, int, OSNumber})


def check_value(value: object, path: str = "value") -> None:
    """Raise :class:`PropertyTypeError` unless ``value`` is a property value, to any depth.

    A too deep, cyclic or too large value raises :class:`PropertyShapeError` (a subclass).
    """
    _walk(value, path, typed=True)


def check_shape(value: object, path: str = "value") -> None:
    """Raise :class:`PropertyShapeError` when ``value`` (any nest of dicts, lists, tuples and
    sets, whatever its leaves) is deeper than :data:`MAX_VALUE_DEPTH`, contains itself or holds
    more than :data:`MAX_VALUE_ITEMS` items. Iterative: safe on any input.
    """
    _walk(value, path, typed=False)


# A breadcrumb to an item: (the parent's crumb, the key or index that leads here, the
# container holding it). Made per container only, so a walk costs little; the path is spelt
# out only when something is refused.
_Crumb = tuple[Any, object, object]


_CONTAINERS = (Mapping, list, tuple, frozenset, set)
#: Containers a property value may be (a mutable ``set`` is not: OSSet is ``frozenset``).
_VALUE_CONTAINERS = (Mapping, list, tuple, frozenset)


def _walk(value: object, path: str, *, typed: bool) -> None:
    containers = _VALUE_CONTAINERS if typed else _CONTAINERS
    if not isinstance(value, containers):
        if typed and isinstance(value, str):
            check_text(value, path)
        elif typed and not isinstance(value, (bytes, bool, int)):
            raise PropertyTypeError(path, value)
        return
    # Only containers go on the stack; leaves are checked where they are met.
    stack: list[tuple[Any, int, _Crumb | None]] = [(value, 0, None)]
    items = 0
    while stack:
        item, depth, crumb = stack.pop()
        if depth >= MAX_VALUE_DEPTH:
            raise _too_deep(path, crumb, item, depth + 1)
        items += len(item)
        if items > MAX_VALUE_ITEMS:
            raise PropertyShapeError(_spell(path, crumb), value,
                                     f"holds more than {MAX_VALUE_ITEMS} items", depth)
        if isinstance(item, Mapping):
            if typed:
                _check_keys(item, path, crumb)
            pairs: Iterable[tuple[object, object]] = item.items()
        else:
            pairs = enumerate(item)
        for key, child in pairs:
            if type(child) in SCALAR_TYPES or isinstance(child, (str, bytes, bool, int)):
                if typed and isinstance(child, str) and not str.isascii(child):
                    check_text(child, _spell(path, (crumb, key, item)))  # spelt only here
            elif isinstance(child, containers):
                stack.append((child, depth + 1, (crumb, key, item)))
            elif typed:
                raise PropertyTypeError(_spell(path, (crumb, key, item)), child)


def _check_keys(item: Mapping[Any, Any], path: str, crumb: _Crumb | None) -> None:
    for key in item:
        if not isinstance(key, str):
            raise PropertyTypeError(f"{_spell(path, crumb)} key {key!r}", key)
        if not str.isascii(key) or "\0" in key:
            check_symbol(key, f"{_spell(path, crumb)} key {key!r}")


def _too_deep(path: str, crumb: _Crumb | None, item: object, depth: int) -> PropertyShapeError:
    steps = _steps(crumb)
    # Past the limit, a container met again on the way down means the value contains itself:
    # name the way to where it first comes back.
    seen: set[int] = set()
    children = [container for _, container in steps[1:]] + [item]
    for index, ((_, container), child) in enumerate(zip(steps, children)):
        seen.add(id(container))
        if id(child) in seen:
            return PropertyShapeError(_spell(path, steps[: index + 1]), item,
                                      "contains itself (a cycle)", index + 1)
    return PropertyShapeError(_spell(path, steps), item,
                              f"nested {depth} deep; the limit is {MAX_VALUE_DEPTH}", depth)


def _steps(crumb: _Crumb | None) -> list[tuple[object, object]]:
    """``(key, container)`` from the top down to ``crumb``."""
    steps: list[tuple[object, object]] = []
    while crumb is not None:
        parent, key, container = crumb
        steps.append((key, container))
        crumb = parent
    steps.reverse()
    return steps


def _spell(path: str, steps: list[tuple[object, object]] | _Crumb | None) -> str:
    """``path.key[3].other``; a long trail keeps its ends (``path.a.b[0]…(120 more)…[0]``)."""
    if not isinstance(steps, list):
        steps = _steps(steps)
    parts = [f".{key}" if isinstance(container, Mapping) else f"[{key}]"
             for key, container in steps]
    if len(parts) > 12:
        parts = [*parts[:6], f"…({len(parts) - 9} more)…", *parts[-3:]]
    return path + "".join(parts)


def merges_in_a_set(members: list[Any]) -> bool:
    """True when a ``frozenset`` of ``members`` would lose one that an ``OSSet`` keeps: Python
    takes ``True`` for ``1`` and ``False`` for ``0``, but an OSBoolean is never equal to an
    OSNumber (``[1, Yes]`` is a set of two)."""
    kinds = {type(member) is bool for member in members if isinstance(member, int)}
    return len(kinds) == 2 and len(frozenset(members)) < len(members)


def values_equal(a: object, b: object) -> bool:
    """libkern's ``isEqualTo`` across types, as matching uses it.

    Numbers compare by value whatever their width; a string equals data holding the same
    bytes, optionally followed by one NUL (``OSString``/``OSData``, both directions);
    booleans compare by identity; arrays element by element; dictionaries key by key.

    :raises PropertyShapeError: past :data:`MAX_VALUE_DEPTH` (a value no reader lets in).
    """
    kind = type(a)
    if kind is type(b) and kind in SCALAR_TYPES:
        # The common case in matching (str to str, data to data, number to number): plain
        # equality is libkern's answer, and it skips the ABC checks below.
        return bool(a == b)
    return _equal(a, b, 0)


def _equal(a: object, b: object, depth: int) -> bool:
    kind = type(a)
    if kind is type(b) and kind in SCALAR_TYPES:
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, str) and isinstance(b, bytes):
        return _string_equals_data(a, b)
    if isinstance(a, bytes) and isinstance(b, str):
        return _string_equals_data(b, a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False
        depth = _deeper(a, depth)
        return all(_equal(x, y, depth) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return _mappings_equal(a, b, _deeper(a, depth))
    both_numbers = isinstance(a, int) and isinstance(b, int)
    both_sets = isinstance(a, (frozenset, set)) and isinstance(b, (frozenset, set))
    if type(a) is not type(b) and not both_numbers and not both_sets:
        return False
    return bool(a == b)


def _deeper(value: object, depth: int) -> int:
    """One level further down ``value``; refused past the limit, so recursion stays bounded."""
    if depth >= MAX_VALUE_DEPTH:
        raise PropertyShapeError("value", value,
                                 f"nested more than {MAX_VALUE_DEPTH} deep", depth + 1)
    return depth + 1


def _mappings_equal(a: Mapping[Any, Any], b: Mapping[Any, Any], depth: int) -> bool:
    # A loop, not all(<generator>): the catalogue compares every new personality with those
    # already there for its class (IOCatalogue::addDrivers), and the generator doubled that.
    if len(a) != len(b):
        return False
    for key, value in a.items():
        if key not in b or not _equal(value, b[key], depth):
            return False
    return True


def equality_key(value: object) -> Hashable:
    """A hashable key with ``values_equal(a, b)`` implying ``equality_key(a) == equality_key(b)``,
    so equal property values can be found by hashing and confirmed with :func:`values_equal`.

    Strings and data share a key space (a string equals data with its bytes and one optional
    NUL, so data drops one trailing NUL); numbers key by value, booleans apart from them.

    :raises PropertyShapeError: past :data:`MAX_VALUE_DEPTH` (a value no reader lets in).
    """
    return _key(value, 0)


def _key(value: object, depth: int) -> Hashable:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value[:-1] if value.endswith(b"\x00") else value
    if isinstance(value, (list, tuple)):
        depth = _deeper(value, depth)
        return ("array", tuple([_key(item, depth) for item in value]))
    if isinstance(value, Mapping):
        depth = _deeper(value, depth)
        return ("dict", frozenset([(key, _key(item, depth)) for key, item in value.items()]))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(value))
    try:  # a plist <real> and the like, which values_equal compares with ==
        hash(value)
    except TypeError:
        return ("other", id(value))
    return ("other", value)


def _string_equals_data(text: str, data: bytes) -> bool:
    raw = text.encode("utf-8")
    return data == raw or data == raw + b"\x00"
