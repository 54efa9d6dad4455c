"""The SDK's registry entry and typed values (``iokit_sdk.entry``, ``iokit_sdk.values``, and
``iokit_sdk.plain``, the copy the registry keeps: tested with the checks it mirrors)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hostilekit import HostileInt, HostileStr
from hypothesis import given
from hypothesis import strategies as st
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.plain import plain_value
from iokit_sdk.service import IOService
from iokit_sdk.values import (
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    OSNumber,
    PropertyNulError,
    PropertyShapeError,
    PropertyTypeError,
    check_shape,
    check_value,
    equality_key,
    values_equal,
)


def test_osnumber_masks_to_its_width_and_compares_by_value() -> None:
    assert OSNumber(-1, 32) == 0xFFFFFFFF and OSNumber(0x1FF, 8) == 0xFF
    assert OSNumber(5, 16) == OSNumber(5, 64) and OSNumber(5, 8).bits == 8
    assert pickle.loads(pickle.dumps(OSNumber(7, 16))).bits == 16
    with pytest.raises(ValueError):
        OSNumber(1, 12)
    with pytest.raises(TypeError):
        OSNumber(True, 8)


@pytest.mark.parametrize(("a", "b", "equal"), [
    ("pci14e4,4331", b"pci14e4,4331\x00", True),
    (b"abc", "abc", True),
    ("abc", b"abc\x00\x00", False),
    (OSNumber(1, 8), 1, True),
    (True, 1, False),
    ([1, "a"], (1, "a"), True),
    ({"a": OSNumber(2, 32)}, {"a": 2}, True),
    ({"a": 1}, {"b": 1}, False),
    (frozenset({1}), frozenset({1}), True),
])
def test_values_equal_is_libkern_is_equal_to(a: object, b: object, equal: bool) -> None:
    assert values_equal(a, b) is equal


_SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 3), st.integers(0, 3).map(lambda n: OSNumber(n, 8)),
    st.sampled_from(["", "a", "ab"]), st.sampled_from([b"", b"a", b"a\x00", b"ab", b"\x00"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.sampled_from(["k", "l"]), inner, max_size=2)), max_leaves=6)


@given(_VALUES, _VALUES)
def test_equal_values_share_an_equality_key(a: object, b: object) -> None:
    # The catalogue finds a personality's twins by this key; a miss would let a duplicate in.
    if values_equal(a, b):
        assert equality_key(a) == equality_key(b)


def _libkern_twin(value: object) -> object:
    """A value of other Python types that libkern's isEqualTo still calls equal to ``value``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return OSNumber(value, 64) if value >= 0 else value
    if isinstance(value, str):
        return value.encode() + b"\x00"
    if isinstance(value, (list, tuple)):
        return tuple(_libkern_twin(item) for item in value)
    if isinstance(value, dict):
        return {key: _libkern_twin(item) for key, item in reversed(value.items())}
    return value


@given(_VALUES)
def test_a_libkern_twin_is_equal_and_shares_the_key(value: object) -> None:
    twin = _libkern_twin(value)
    assert values_equal(value, twin)
    assert equality_key(value) == equality_key(twin)


def test_equality_key_separates_what_values_equal_separates() -> None:
    assert equality_key("abc") == equality_key(b"abc\x00") == equality_key(b"abc")
    assert equality_key(True) != equality_key(1)
    assert equality_key({"a": OSNumber(2, 32)}) == equality_key({"a": 2})
    assert equality_key([1, "a"]) == equality_key((1, "a")) != equality_key([1, "b"])
    # A manifest's <real> is no property type, but personalities may carry one.
    assert equality_key({"k": 1.5}) == equality_key({"k": 1.5}) != equality_key({"k": 2.5})


def test_properties_are_checked_and_kept_in_insertion_order() -> None:
    entry = IORegistryEntry({"b": 1, "a": "x"})
    entry.set_property("c", [b"\x00"])
    assert list(entry.properties) == ["b", "a", "c"]
    with pytest.raises(PropertyTypeError) as caught:
        entry.set_property("bad", {"k": [1.5]})
    assert caught.value.path == "bad.k[0]"
    with pytest.raises(TypeError):
        entry.properties["z"] = 1  # type: ignore[index]


def test_names_fall_back_from_plane_to_global_to_class() -> None:
    service = IOService()
    assert service.get_name() == "IOService" and service.get_location() is None
    service.set_name("pci-bridge")
    service.set_location("1C,1")
    service.set_name("/", plane="IODeviceTree")
    assert service.get_name("IODeviceTree") == "/" and service.get_name("IOService") == "pci-bridge"
    assert service.get_location("IODeviceTree") == "1C,1"
    service.set_location("1c0001", plane="IOACPIPlane")
    assert service.get_location("IOACPIPlane") == "1c0001"
    assert service.get_name("IOACPIPlane") == "pci-bridge"


def test_class_chain_and_meta_cast() -> None:
    class IOPCIDevice(IOService):
        __slots__ = ()

    class Renamed(IOPCIDevice):
        __slots__ = ()
        iokit_class_name = "AppleThing"

    thing = Renamed()
    assert thing.class_name() == "AppleThing"
    assert Renamed.class_chain == ("AppleThing", "IOPCIDevice", "IOService", "IORegistryEntry")
    assert thing.meta_cast("IOPCIDevice") and not thing.meta_cast("IOUSBDevice")


# -- one nesting limit: deeper or cyclic values are refused, never walked without end --------

def _nested(depth: int, make: object = list) -> object:
    value: object = [] if make is list else {}
    for _ in range(depth - 1):
        value = [value] if make is list else {"k": value}
    return value


def _cyclic() -> object:
    value: list[object] = [1, {"a": []}]
    value[1]["a"].append(value)  # type: ignore[index]
    return value


@pytest.mark.parametrize("make", [list, dict])
def test_values_at_the_limit_are_accepted_everywhere(make: object) -> None:
    value = _nested(MAX_VALUE_DEPTH, make)
    entry = IORegistryEntry({"v": value})
    assert entry.get_property("v") == value  # a copy (test_a_driver_changing_a_value...)
    assert values_equal(value, _nested(MAX_VALUE_DEPTH, make))
    assert equality_key(value) == equality_key(_nested(MAX_VALUE_DEPTH, make))


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 500, 2000])
def test_deeper_values_are_refused_with_the_path_and_depth(depth: int) -> None:
    value = _nested(depth)
    with pytest.raises(PropertyShapeError) as caught:
        IORegistryEntry().set_property("deep", value)
    assert isinstance(caught.value, PropertyTypeError)  # what set_property callers catch
    assert caught.value.path.startswith("deep[0][0]")
    assert caught.value.depth == MAX_VALUE_DEPTH + 1
    assert f"the limit is {MAX_VALUE_DEPTH}" in str(caught.value)
    for walk in (equality_key, lambda v: values_equal(v, _nested(depth))):
        with pytest.raises(PropertyShapeError):
            walk(value)


def test_a_driver_changing_a_value_after_setting_it_does_not_change_the_registry() -> None:
    """The registry keeps a copy and hands out copies: a list the driver goes on appending to
    (itself, an object no reader knows) leaves the property as it was set, so every reader
    may recurse."""
    entry = IORegistryEntry()
    listed: list[object] = [1, {"k": [2]}]
    table: dict[str, object] = {"a": (1, frozenset({3}))}
    entry.set_property("List", listed)
    entry.set_property("Table", table)
    listed.append(listed)
    listed[1]["k"].append(object())  # type: ignore[index]
    table["self"] = table
    assert entry.get_property("List") == [1, {"k": [2]}]
    assert entry.get_property("Table") == {"a": (1, frozenset({3}))}
    read = entry.get_property("List")  # and what it reads back is a copy too
    read.append(read)
    read[1]["k"].append(object())
    assert entry.get_property("List") == [1, {"k": [2]}]
    assert type(entry.get_property("Table")["a"]) is tuple
    check_value(entry.properties)  # every reader's precondition


def test_a_driver_changing_what_properties_hands_it_does_not_change_the_registry() -> None:
    # `properties` was a read-only view over the table itself: its lists and dicts were the
    # registry's, so `l.append(l)` made a cycle and `iokit ioreg -l` a RecursionError.
    entry = IORegistryEntry()
    entry.set_property("List", [1, (2, [3])])
    entry.set_property("Table", {"k": [4]})
    listed = entry.properties["List"]
    listed.append(listed)
    listed[1][1].append(listed)
    entry.properties["Table"]["k"].append(entry.properties)
    for value in entry.properties.values():
        if isinstance(value, dict):
            value["self"] = value
    table = entry.copy_properties()
    table["List"].append(table)
    table["Table"]["k"].append(table)
    assert entry.copy_properties() == {"List": [1, (2, [3])], "Table": {"k": [4]}}
    check_value(dict(entry.properties))  # no cycle for any reader to recurse into
    with pytest.raises(TypeError):
        entry.properties["New"] = 1  # type: ignore[index]


def _change_every_container(value: object) -> None:
    """What a careless driver does to what it read: each list and dict made to hold itself."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            item.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            item["self"] = item
        elif isinstance(item, tuple):
            stack.extend(item)


@given(_VALUES)
def test_any_value_read_back_and_changed_leaves_the_property_as_set(value: Any) -> None:
    entry = IORegistryEntry()
    entry.set_property("V", value)
    for read in (entry.properties["V"], entry.copy_properties()["V"], entry.get_property("V"),
                 dict(entry.properties.items())["V"]):
        _change_every_container(read)
    assert values_equal(entry.get_property("V"), value)
    check_value(entry.properties)


def test_a_table_spoiled_behind_the_checks_is_still_read_out_in_bounded_work() -> None:
    # Only writing the private table can put a list inside itself a thousand times (or one
    # list in many places): reading it out copies a bounded amount and hands the rest on as
    # it is, for its reader to repair (server/repair.py), instead of walking it forever.
    entry = IORegistryEntry()
    spoiled: list[Any] = []
    spoiled.extend([spoiled] * 1000)
    fan: list[Any] = [1]
    for _ in range(200):
        fan = [fan, fan]
    entry._props.update(spoiled=spoiled, fan=fan, odd=object())
    copy = entry.copy_properties()
    assert copy["spoiled"] is not spoiled and copy["odd"] is entry._props["odd"]
    assert entry.properties["fan"] is not fan


def test_subclasses_of_the_value_types_are_kept_as_the_built_in_value() -> None:
    """A driver's ``str``, ``int`` or ``OSNumber`` subclass is stored as the value beneath,
    so none of its methods (``__format__``, ``__int__``, ``__hash__``) runs in a reader."""

    class Wide(OSNumber):
        pass

    entry = IORegistryEntry()
    entry.set_property(HostileStr("Key"), [HostileStr("text"), HostileInt(7)])
    entry.set_property("Width", Wide(5, 16))
    (key, value), width = next(iter(entry.properties.items())), entry.get_property("Width")
    assert type(key) is str and [type(v) for v in value] == [str, int] and value == ["text", 7]
    assert type(width) is OSNumber and (width, width.bits) == (5, 16)
    assert plain_value((HostileInt(1), [b"x"])) == (1, [b"x"])


def test_init_keeps_what_set_property_keeps_and_refuses_what_it_refuses() -> None:
    """``IOService.init`` checks its common items inline (an ASCII key, a scalar): each item
    is kept, copied or refused as ``set_property`` would, in order; a driver's own
    ``set_property`` still sees every key."""
    class Text(str):
        pass

    class Number(int):
        pass

    table = {"IOClass": "Driver", "caf\u00e9": "th\u00e9", Text("Key"): Number(7),
             "Width": OSNumber(5, 16), "On": True, "Data": b"\x00", "List": [1, {"k": "v"}]}
    by_init, by_set = IOService(), IOService()
    assert by_init.init(table) is True
    for key, value in table.items():
        by_set.set_property(key, value)
    assert list(by_init.properties.items()) == list(by_set.properties.items())
    assert [type(k) for k in by_init.properties] == [str] * len(table)
    assert type(by_init.get_property("Key")) is int
    assert by_init.get_property("Width").bits == 16
    with pytest.raises(PropertyTypeError):
        IOService().init({"ok": 1, "bad": 1.5})
    with pytest.raises(PropertyNulError):
        IOService().init({"nul\0key": 1})

    seen: list[str] = []

    class Watching(IOService):
        def set_property(self, key: str, value: Any) -> None:
            seen.append(key)
            super().set_property(key, value)

    Watching().init({"a": 1, "b": "x"})
    assert seen == ["a", "b"]


def test_a_value_containing_itself_is_refused_as_a_cycle() -> None:
    with pytest.raises(PropertyShapeError) as caught:
        check_value(_cyclic(), "v")
    assert caught.value.path == "v[1].a[0]"
    assert "cycle" in str(caught.value)
    with pytest.raises(PropertyShapeError) as copied:
        plain_value(_cyclic(), "v")
    assert (copied.value.path, copied.value.reason) == ("v[1].a[0]", caught.value.reason)
    with pytest.raises(PropertyShapeError):
        equality_key(_cyclic())


def test_a_value_sharing_one_container_into_a_huge_tree_is_refused() -> None:
    value: list[object] = []
    for _ in range(40):
        value = [value, value]  # 2**40 leaves as a tree, 40 lists in memory
    with pytest.raises(PropertyShapeError) as caught:
        check_shape(value, "v")
    assert f"more than {MAX_VALUE_ITEMS} items" in str(caught.value)
    flat = list(range(1000))
    for shared in (value, [flat] * 300):  # nested, and flat lists copied in one loop each
        with pytest.raises(PropertyShapeError) as copied:
            plain_value(shared, "v")
        assert f"more than {MAX_VALUE_ITEMS} items" in str(copied.value)


def test_shape_checks_accept_any_leaf_while_value_checks_do_not() -> None:
    check_shape({"a": [1.5, None, object()]})
    with pytest.raises(PropertyTypeError) as caught:
        check_value({"a": [1, 2.5]})
    assert caught.value.path == "value.a[1]"
