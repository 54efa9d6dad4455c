"""``iokit ioreg --json``: the same selection as ``ioreg -a``, as typed, lossless JSON for scripts.

Each entry is an object::

    {"name": "ARPT", "location": "0", "class": "IOPCIDevice", "id": 4294967742,
     "state": {"registered": true, "matched": true, "active": true, "busy": 0,
               "busy_time_ns": 743000000, "bits": 6} | null,
     "retain": 11, "properties": {...} | null, "children": [...]}

``inheritance`` (``IORegistryEntry`` first) is added with ``-i``. ``state`` is null for
entries that are not IOServices (Root). ``properties`` is null when not shown (neither ``-l``
nor matched), exactly when ``ioreg -a`` leaves them out. ``children`` lists the shown
children (empty at the ``-d`` limit). The top level is Root's object, or with ``-r`` an
array of the matched subtrees.

Property values keep their registry types (:func:`encode_json_value`;
:func:`decode_json_value` is its inverse):

=================  ===========================================================
registry type      JSON
=================  ===========================================================
string             string
boolean            true / false
number             ``{"number": <unsigned value>, "bits": 8|16|32|64}``
data               ``{"data": "<lowercase hex>"}``
array              array
dictionary         ``{"dict": {key: value, ...}}`` (so it never reads as a tag)
set                ``{"set": [values]}`` (sorted by ioreg's printed form)
=================  ===========================================================
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any, TextIO

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.values import MAX_VALUE_DEPTH, OSNumber, number_bits

from iokit_host.errors import IOKitError
from iokit_host.ioreg.format import member_key, snapshot
from iokit_host.ioreg.jsontext import dump, dumps
from iokit_host.ioreg.node import inheritance, retain_count, service_facts
from iokit_host.ioreg.options import IoregOptions, check_plane
from iokit_host.ioreg.select import build_trees
from iokit_host.registry import IORegistry

__all__ = ["JsonValueError", "decode_json_value", "encode_json_value", "render_json",
           "write_json"]


class JsonValueError(IOKitError):
    reference = "ioreg-json-value-invalid"


def render_json(registry: IORegistry, options: IoregOptions | None = None,
                indent: int | None = 2) -> str:
    """The selected tree(s) as JSON text.

    :raises UnknownPlaneError: when ``options.plane`` is not a plane of ``registry``.
    """
    return dumps(_document(registry, options), indent=indent, ensure_ascii=False)


def write_json(registry: IORegistry, stream: TextIO, options: IoregOptions | None = None,
               indent: int | None = 2) -> None:
    """:func:`render_json` written to ``stream`` as it is made: a registry thousands of
    entries deep makes JSON text of hundreds of megabytes (each level indents further)."""
    dump(_document(registry, options), stream, indent=indent, ensure_ascii=False)


def _document(registry: IORegistry, options: IoregOptions | None) -> Any:
    options = options or IoregOptions()
    check_plane(registry, options.plane)
    trees = build_trees(registry, options, lambda entry: _node(entry, options), "children")
    return trees if options.root else trees[0]


def _node(entry: IORegistryEntry, options: IoregOptions) -> dict[str, Any]:
    node: dict[str, Any] = {"name": entry.get_name(options.plane),
                            "location": entry.get_location(options.plane),
                            "class": entry.class_name()}
    if options.inheritance:
        node["inheritance"] = list(inheritance(entry))
    node["id"] = entry.get_registry_entry_id()
    facts = service_facts(entry)
    node["state"] = None if facts is None else {
        "registered": facts.registered, "matched": facts.matched, "active": facts.active,
        "busy": facts.busy, "busy_time_ns": facts.busy_time_ns, "bits": facts.state}
    node["retain"] = retain_count(entry)
    node["properties"] = ({key: encode_json_value(value)  # a snapshot: see format.snapshot
                           for key, value in entry.copy_properties().items()}
                          if options.shows_properties(entry) else None)
    node["children"] = []
    return node


def encode_json_value(value: Any) -> Any:
    """A property value as typed JSON (see the module's table)."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        bits = number_bits(value)
        return {"number": int(value) % (1 << bits), "bits": bits}
    if isinstance(value, (bytes, bytearray)):
        return {"data": bytes(value).hex()}
    if isinstance(value, Mapping):
        return {"dict": {key: encode_json_value(item) for key, item in snapshot(value)}}
    if isinstance(value, (frozenset, set)):
        return {"set": [encode_json_value(item) for item in sorted(value, key=member_key)]}
    if isinstance(value, (list, tuple)):
        return [encode_json_value(item) for item in tuple(value)]
    raise JsonValueError(f"{type(value).__name__} is not a registry property type")


def decode_json_value(value: Any) -> Any:
    """The registry value :func:`encode_json_value` encoded (sets as frozensets).

    :raises JsonValueError: for JSON that is not an encoded property value, or one nesting
        deeper than ``MAX_VALUE_DEPTH``.
    """
    return _decode(value, 0)


def _decode(value: Any, depth: int) -> Any:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (list, dict)) and depth >= MAX_VALUE_DEPTH:
        raise JsonValueError(f"a value nests more than {MAX_VALUE_DEPTH} deep",
                             hint="property values nest at most "
                                  f"{MAX_VALUE_DEPTH} arrays or dictionaries")
    if isinstance(value, list):
        return [_decode(item, depth + 1) for item in value]
    if isinstance(value, dict) and len(value) in (1, 2):
        return _decode_tagged(value, depth)
    raise JsonValueError(f"not an encoded property value: {_brief(value)}",
                         hint="values are strings, booleans, arrays or tagged objects")


def _decode_tagged(value: dict[str, Any], depth: int) -> Any:
    try:
        if set(value) == {"number", "bits"}:
            return OSNumber(value["number"], value["bits"])
        if set(value) == {"data"}:
            return bytes.fromhex(value["data"])
        if set(value) == {"dict"} and isinstance(value["dict"], dict):
            return {str(k): _decode(v, depth + 1) for k, v in value["dict"].items()}
        if set(value) == {"set"} and isinstance(value["set"], list):
            return frozenset(_decode(item, depth + 1) for item in value["set"])
    except (TypeError, ValueError) as error:
        raise JsonValueError(f"bad encoded value {_brief(value)}: {error}") from error
    raise JsonValueError(f"unknown tagged value {_brief(value)}",
                         hint="tags are number+bits, data, dict and set")


def _brief(value: Any) -> str:
    """A short repr: reprlib stops a few levels down, where repr() would recurse through a
    deep value; numbers past int-to-text's 4300 digits are named by size."""
    return _Brief().repr(value)[:80]


class _Brief(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 1000:
            return f"<a {x.bit_length()}-bit integer>"
        return super().repr_int(x, level)
