"""An entry line read into the entry it prints, in each of ioreg's header shapes."""

from __future__ import annotations

from iokit_host.ioreg_import.entries import entry_id, parse_node_line


def test_a_modern_header_gives_name_location_class_id_and_states() -> None:
    node, clipped, bad_id = parse_node_line(
        "PCI0@0  <class IOPCIDevice, id 0x1000001a2, registered, !matched, active, "
        "busy 0 (12 ms), retain 9>", 7, 2)
    assert node is not None and not clipped and bad_id is None
    assert (node.name, node.location, node.class_name, node.entry_id, node.line, node.depth) == (
        "PCI0", "0", "IOPCIDevice", 0x1000001A2, 7, 2)
    assert node.states == ("registered", "!matched", "active", "busy 0 (12 ms)")


def test_old_and_inheritance_headers_read_their_class() -> None:
    old, _, _ = parse_node_line("GFX0  <class IOPCIDevice, retain count 9>", 1, 0)
    assert old is not None and (old.class_name, old.entry_id, old.states) == (
        "IOPCIDevice", None, ())
    chain, _, _ = parse_node_line("GFX0  <class IOService:IOPCIDevice, id 0x5>", 1, 0)
    assert chain is not None and chain.inheritance == ("IOPCIDevice", "IOService")


def test_a_clipped_header_keeps_what_was_printed_whole_and_an_edited_id_is_named() -> None:
    node, clipped, _ = parse_node_line("GFX0  <class IOPCIDevice, id 0x5, regis", 1, 0)
    assert node is not None and clipped and node.entry_id == 5 and node.states == ()
    edited, _, bad_id = parse_node_line("GFX0  <class IOPCIDevice, id 0xXXXXXXXX>", 1, 0)
    assert edited is not None and edited.entry_id is None and bad_id == "0xXXXXXXXX"
    assert parse_node_line("GFX0  <clas", 1, 0) == (None, False, None)
    assert entry_id("0x") is None and entry_id("0x" + "f" * 17) is None
