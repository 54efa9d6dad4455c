"""``--json``: valid, complete, typed and lossless."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from iokit_host.ioreg import IoregOptions, decode_json_value, encode_json_value, render_json
from iokit_host.ioreg.jsonout import JsonValueError
from iokit_host.registry import IORegistry

from .conftest import Maker
from .test_format import values


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for kid in node["children"]:
        found += _walk(kid)
    return found


def test_json_is_complete(registry: IORegistry, make: Maker) -> None:
    pe = make(None, "IOPlatformExpertDevice", name="PE", props={"model": b"MBP\x00"})
    for index in range(3):
        make(pe, "IOPCIDevice", name=f"D{index}", location=f"{index:x}",
             props={"n": index, "s": "x", "d": {"a": [True]}})
    root = json.loads(render_json(registry, IoregOptions(list_properties=True)))
    nodes = _walk(root)
    assert {n["id"] for n in nodes} == {e.get_registry_entry_id() for e in registry.entries()}
    by_name = {n["name"]: n for n in nodes}
    assert by_name["Root"]["state"] is None
    assert by_name["D2"]["location"] == "2" and by_name["D2"]["class"] == "IOPCIDevice"
    assert by_name["D2"]["state"]["registered"] is True
    for entry in registry.entries():
        node = next(n for n in nodes if n["id"] == entry.get_registry_entry_id())
        decoded = {k: decode_json_value(v) for k, v in node["properties"].items()}
        assert decoded == dict(entry.properties)


def test_properties_are_null_when_not_shown(registry: IORegistry, make: Maker) -> None:
    make(None, name="A", props={"k": 1})
    root = json.loads(render_json(registry))
    assert root["children"][0]["properties"] is None


def test_typed_encoding() -> None:
    from iokit_sdk.values import OSNumber

    assert encode_json_value(OSNumber(0xFFFFFFFF, 32)) == {"number": 0xFFFFFFFF, "bits": 32}
    assert encode_json_value(b"\x01\xff") == {"data": "01ff"}
    assert encode_json_value({"data": "x"}) == {"dict": {"data": "x"}}
    assert encode_json_value(frozenset({"b", "a"})) == {"set": ["a", "b"]}


@given(values)
def test_encoding_round_trips(value: Any) -> None:
    decoded = decode_json_value(json.loads(json.dumps(encode_json_value(value))))
    assert encode_json_value(decoded) == encode_json_value(value)


@pytest.mark.parametrize("bad", [{"number": 1}, {"data": "zz"}, 3, None, {"x": 1}])
def test_decoding_rejects_what_is_not_an_encoding(bad: Any) -> None:
    with pytest.raises(JsonValueError):
        decode_json_value(bad)


def test_root_option_gives_a_list(registry: IORegistry, make: Maker) -> None:
    make(None, name="A")
    assert [n["name"] for n in json.loads(render_json(registry, IoregOptions(root=True,
                                                                             name="A")))] == ["A"]


def test_a_registry_thousands_deep_renders(registry: IORegistry, make: Maker) -> None:
    node = None
    for level in range(2000):
        node = make(node, name=f"n{level}")
    text = render_json(registry, IoregOptions(state=False))
    assert text.count('"class": "IOService"') == 2000
    assert '"name": "n1999"' in text


def test_values_at_the_nesting_limit_render(registry: IORegistry, make: Maker) -> None:
    from iokit_sdk.values import MAX_VALUE_DEPTH

    deep: Any = []
    for _ in range(MAX_VALUE_DEPTH - 1):
        deep = [deep]
    make(None, name="deep", props={"deep": deep})
    document = json.loads(render_json(registry, IoregOptions(list_properties=True)))
    value = document["children"][0]["properties"]["deep"]
    for _ in range(MAX_VALUE_DEPTH - 1):
        value = value[0]
    assert value == []


def test_decoding_refuses_json_nested_past_the_limit_in_our_error() -> None:
    deep: Any = []
    for _ in range(3000):
        deep = [deep]
    for value in (deep, {"dict": {"a": deep}}, {"a": 1, "b": 2, "c": deep},
                  {"number": 10 ** 5000, "bits": 7}):
        with pytest.raises(JsonValueError) as caught:
            decode_json_value(value)
        assert len(str(caught.value)) < 400
