"""Registry text: every string a driver gives the registry is text an OSString or OSSymbol can
hold. A lone surrogate (``"\\ud800"``) is no such text: UTF-8 cannot encode it, so once in the
registry it broke every printer (``ioreg``, ``--json``, ``-a``) and the running kernel's
protocol; it is refused at the driver's own call, as other bad values are."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService
from iokit_sdk.values import (
    PropertyNulError,
    PropertyTextError,
    PropertyTypeError,
    check_text,
    check_value,
)

LONE = "bad\ud800name"


class _Str(str):
    pass


#: Each place a driver hands the registry a string, with where the refusal says it was.
PLACES: dict[str, tuple[Callable[[IOService], object], str]] = {
    "name": (lambda s: s.set_name(LONE), "a registry entry's name"),
    "plane name": (lambda s: s.set_name(LONE, "IODeviceTree"), "a registry entry's name"),
    "location": (lambda s: s.set_location(LONE), "a registry entry's location"),
    "plane location": (lambda s: s.set_location("\udfff", "IODeviceTree"),
                       "a registry entry's location"),
    "constructor name": (lambda s: IOService(name=LONE), "a registry entry's name"),
    "constructor property": (lambda s: IOService({"k": LONE}), "k"),
    "property key": (lambda s: s.set_property(LONE, 1), "property key 'bad\\ud800name'"),
    "property value": (lambda s: s.set_property("k", LONE), "k"),
    "str subclass value": (lambda s: s.set_property("k", _Str(LONE)), "k"),
    "array item": (lambda s: s.set_property("k", ["ok", LONE]), "k[1]"),
    "tuple item": (lambda s: s.set_property("k", ("é", LONE)), "k[1]"),
    "set member": (lambda s: s.set_property("k", frozenset({LONE})), "k[0]"),
    "dict key": (lambda s: s.set_property("k", {LONE: 1}), "k key 'bad\\ud800name'"),
    "dict value": (lambda s: s.set_property("k", {"a": LONE}), "k.a"),
    "deep dict key": (lambda s: s.set_property("k", {"a": [{"\udc80": b""}]}),
                      "k.a[0] key '\\udc80'"),
    "deep value": (lambda s: s.set_property("k", {"a": [[1, _Str(LONE)]]}), "k.a[0][1]"),
}


@pytest.mark.parametrize("place", list(PLACES))
def test_a_lone_surrogate_is_refused_where_the_driver_gives_it(place: str) -> None:
    act, where = PLACES[place]
    service = IOService({"k": "before"}, name="before")
    with pytest.raises(PropertyTextError) as refused:
        act(service)
    error = refused.value
    # What the other bad values raise, so a driver's `except PropertyTypeError` holds; a
    # ValueError by nature. The message escapes the surrogate: it must print itself.
    assert isinstance(error, PropertyTypeError) and isinstance(error, ValueError)
    message = str(error)
    assert message.startswith(f"{where}: the string has a lone surrogate")
    assert message.encode("utf-8") and "UTF-8 cannot encode it" in message
    assert service.get_name() == "before" and dict(service.properties) == {"k": "before"}
    assert service.get_name("IODeviceTree") == "before"


@pytest.mark.parametrize("act", [
    lambda s: s.set_name("a\0b"), lambda s: s.set_name("a\0", "IODeviceTree"),
    lambda s: s.set_location("1\0"), lambda s: s.set_property("k\0", 1),
    lambda s: s.set_property("k", {"a": {"b\0": 1}}), lambda s: s.set_property("k", {"\0": 1}),
])
def test_a_nul_in_a_name_or_key_is_refused_where_the_driver_gives_it(
        act: Callable[[IOService], object]) -> None:
    # An OSSymbol is a C string: setName("a\0b") names the entry "a" in IOKit, a bug the
    # cut would hide; ioreg printed the NUL raw. A NUL in a string value is kept (OSData-like).
    service = IOService({"k": "before"}, name="before")
    with pytest.raises(PropertyNulError, match="holds a NUL character") as refused:
        act(service)
    assert isinstance(refused.value, PropertyTypeError)
    assert service.get_name() == "before" and dict(service.properties) == {"k": "before"}


def test_a_class_named_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(PropertyTextError):
        type("Named", (IOService,), {"iokit_class_name": LONE})


def test_text_that_utf8_encodes_is_kept_as_it_is() -> None:
    text = "é\u2028😀\U0010ffff"
    value = {"ключ": [text, frozenset({"ü"})], "k": ("a", {"ß": "ø"})}
    entry = IORegistryEntry({"名前": value}, name=text, location="ü@1")
    assert entry.get_property("名前") == value
    assert entry.get_name() == text and entry.get_location() == "ü@1"
    assert check_text(text) is text
    with pytest.raises(PropertyTextError):  # a pair's halves as two code points: not text
        check_text("\ud83d\ude00")


def test_the_value_check_of_user_client_arguments_refuses_it_too() -> None:
    check_value({"k": ["é"]}, "argument")
    with pytest.raises(PropertyTextError, match=r"^argument\.k\[0\]: "):
        check_value({"k": [LONE]}, "argument")
    with pytest.raises(PropertyTextError, match=r"^argument key 'bad\\ud800name': "):
        check_value({LONE: 1}, "argument")
    with pytest.raises(PropertyTextError, match=r"^argument: "):
        check_value(LONE, "argument")
