"""Golden checks against real ioreg dumps: rebuild a fragment, render it, compare the lines.

The fragment's properties are read from the dump itself (a small reader for ioreg's value
syntax lives below), so what is compared is the structure: guides, node line shape, block
layout and value syntax. Ids and retain counts are normalised (ours are our own).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.registry import IORegistry

from .conftest import Maker

MBP = "ioreg/khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt"
MBP_DT = "ioreg/khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IORegDT.txt"
_NODE = re.compile(r"^[ |]*\+-o (?P<label>.*?)  <class (?P<cls>[^,>]+)(?P<rest>.*)>$")
_PROP = re.compile(r'^[ |]*  "(?P<key>[^"]*)" = (?P<value>.*)$')


def parse_value(text: str) -> Any:
    value, end = _value(text, 0)
    assert end == len(text), text
    return value


def _value(text: str, i: int) -> tuple[Any, int]:
    c = text[i]
    if c == '"':
        end = text.index('"', i + 1)
        return text[i + 1:end], end + 1
    if c == "<":
        end = text.index(">", i)
        body = text[i + 1:end]
        if body.startswith('"'):
            return b"".join(s.encode("latin-1") + b"\x00" for s in body[1:-1].split('","')), end + 1
        return bytes.fromhex(body), end + 1
    if c in "({":
        close = ")" if c == "(" else "}"
        items: list[Any] = []
        pairs: dict[str, Any] = {}
        i += 1
        while text[i] != close:
            if c == "{":
                key, i = _value(text, i)
                item, i = _value(text, i + 1)  # skip "="
                pairs[key] = item
            else:
                item, i = _value(text, i)
                items.append(item)
            i += 1 if text[i] == "," else 0
        return (pairs if c == "{" else items), i + 1
    match = re.compile(r"Yes|No|0x[0-9a-f]+|\d+").match(text, i)
    assert match, text[i:]
    token = match.group()
    if token in ("Yes", "No"):
        return token == "Yes", match.end()
    return OSNumber(int(token, 0), 64), match.end()


def read_block(lines: list[str], node_index: int) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for line in lines[node_index + 2:]:
        if line.rstrip(" |").endswith("}") and not _PROP.match(line):
            break
        match = _PROP.match(line)
        assert match, line
        props[match["key"]] = parse_value(match["value"])
    return props


def normalise(line: str) -> str:
    return re.sub(r"retain \d+", "retain N", re.sub(r"id 0x[0-9a-f]+", "id ID", line))


def lines_of(corpus: Path, name: str) -> list[str]:
    return (corpus / name).read_text(encoding="utf-8", errors="surrogateescape").splitlines()


def test_arpt_fragment_matches_the_macbookpro_dump(corpus: Path, registry: IORegistry,
                                                    make: Maker) -> None:
    lines = lines_of(corpus, MBP)
    start = next(i for i, line in enumerate(lines) if line.endswith("+-o RP02@1C,1  <class "
                 "IOPCIDevice, id 0x1000001bd, registered, matched, active, busy 0 (754 ms), "
                 "retain 11>"))
    end = next(i for i in range(start, len(lines)) if "+-o AirPort_Brcm4331_Interface" in lines[i])
    # The ancestors and siblings that decide the guides around the fragment.
    pe = make(None, "IOPlatformExpertDevice", name="MacBookPro8,2")
    ape = make(pe, "AppleACPIPlatformExpert")
    make(pe, "IOResources")
    pci0 = make(ape, "IOACPIPlatformDevice", name="PCI0", location="0")
    make(ape, "IOPMrootDomain")
    parent = make(pci0, "AppleACPIPCI")
    fragment = [i for i in range(start, end) if _NODE.match(lines[i])]
    for index in fragment:
        node = _NODE.match(lines[index])
        assert node is not None
        name, _, location = node["label"].partition("@")
        busy = re.search(r"\((\d+) ms\)", node["rest"])
        parent = make(parent, node["cls"], name=name if name != node["cls"] else None,
                      location=location or None, props=read_block(lines, index),
                      busy_ms=int(busy.group(1)) if busy else 0)
        if index == fragment[0]:
            make(pci0.get_child_entries()[0], "IOPCIDevice", name="RP03", location="1C,2")
    make(parent, "AirPort_Brcm4331_Interface")
    ours = render_text(registry, IoregOptions(list_properties=True)).splitlines()
    ours_start = next(i for i, line in enumerate(ours) if "+-o RP02@1C,1" in line)
    expected = [normalise(line) for line in lines[start:end]]
    assert [normalise(line) for line in ours[ours_start:ours_start + len(expected)]] == expected


def test_root_properties_in_hex_match_the_device_tree_dump(corpus: Path) -> None:
    service_lines = lines_of(corpus, MBP)
    hex_lines = lines_of(corpus, MBP_DT)
    registry = IORegistry()
    registry.root.remove_property("IORegistryPlanes")
    registry.attach(IOService(name="/"), registry.root, "IODeviceTree")
    for key, value in read_block(service_lines, 0).items():
        registry.root.set_property(key, value)
    ours = render_text(registry, IoregOptions(list_properties=True, hex_numbers=True,
                                              plane="IODeviceTree")).splitlines()
    block_end = hex_lines.index("  | ", 1)
    # IOKitDiagnostics holds live allocation counters: the two dumps were taken apart.
    live = '"IOKitDiagnostics"'
    assert [line for line in ours[1:block_end + 1] if live not in line] == \
        [line for line in hex_lines[1:block_end + 1] if live not in line]


@pytest.mark.parametrize("name", [MBP, MBP_DT])
def test_every_node_line_of_a_dump_reparses(corpus: Path, name: str) -> None:
    # Each real node line has the shape our node lines have (a guard on the line regex
    # the golden tests rely on, and on the dumps we read).
    node_lines = [line for line in lines_of(corpus, name) if "+-o " in line]
    assert node_lines and all(_NODE.match(line) for line in node_lines)
