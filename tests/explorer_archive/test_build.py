"""An archive becomes a machine with every plane, its chains, its state and its drivers."""

from __future__ import annotations

import plistlib

from iokit_host.conformance import check_model
from iokit_host.explorer_archive import parse_archive
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.machine import dump_machine, parse_machine
from tests.explorer_archive.archivekit import archive_bytes, small_machine


def test_small_archive_has_its_planes_chains_and_records() -> None:
    model = parse_archive(archive_bytes(small_machine()), source="mac.ioreg")
    assert model.name == "mac-1"
    assert model.planes == ("IOUSB",)
    assert model.classes["AppleIntelFramebuffer"] == "IOFramebuffer"
    assert model.classes["IOUSBDevice"] == "IOUSBNub"
    gfx, _ = model.root.children
    assert (gfx.name, gfx.location, gfx.class_name) == ("GFX0", "2", "IOPCIDevice")
    # -1 was an SInt32 holding 0xFFFFFFFF: read back as the unsigned kernel number.
    assert gfx.properties["big"] == 0xFFFFFFFF and gfx.properties["big"].bits == 32
    driver, hub = gfx.children
    assert driver.recorded_driver and not hub.recorded_driver
    assert driver.record is not None and driver.record.busy == 1
    assert driver.record.bundle_id == "com.apple.driver.AppleIntelHDGraphicsFB"
    (chosen,) = model.entries
    assert chosen.record is not None and not chosen.record.registered
    assert [link.plane for link in hub.planes] == ["IOUSB"]
    assert model.root.planes[0].name == "/"


def test_small_archive_boots_without_matching_the_device_tree() -> None:
    model = parse_archive(archive_bytes(small_machine()), source="mac.ioreg")
    host = IOKitHost(machine=model)
    host.boot()
    tree = render_text(host.registry, IoregOptions(plane="IODeviceTree"))
    assert "+-o /  <class IOPlatformExpertDevice" in tree
    assert "+-o chosen  <class IOService" in tree and "!registered, !matched" in tree
    usb = render_text(host.registry, IoregOptions(plane="IOUSB"))
    assert "+-o Hub@1a100000  <class IOUSBHubDevice" in usb
    service = render_text(host.registry, IoregOptions(inheritance=True))
    # The recorded driver keeps its recorded busy count and chain.
    assert ("AppleIntelFramebuffer  <class IORegistryEntry:IOService:IOGraphicsDevice:"
            "IOFramebuffer:AppleIntelFramebuffer") in service
    assert "busy 1" in service
    # The host's own class of that name is an IOUserClient2022; the record's chain is kept.
    assert ("RootDomainUserClient  <class IORegistryEntry:IOService:IOUserClient:"
            "RootDomainUserClient, id") in service


def test_recorded_binding_replays_and_model_round_trips() -> None:
    model = parse_archive(archive_bytes(small_machine()), source="mac.ioreg")
    report = check_model(model)
    assert (report.attachments, report.accepted) == (1, 1)
    again = parse_machine(dump_machine(model), source="mac.toml")
    assert again.root == model.root and again.entries == model.entries
    assert dict(again.classes) == dict(model.classes)


def test_xml_keyed_archive_reads_as_the_binary_one() -> None:
    binary = parse_archive(archive_bytes(small_machine()), source="a")
    xml = parse_archive(archive_bytes(small_machine(), fmt=plistlib.FMT_XML), source="a")
    assert binary.root == xml.root and binary.entries == xml.entries


def test_ioreg_a_saved_as_utf16_without_its_mark_reads() -> None:
    document = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
                "IORegistryEntryChildren": [{"IOObjectClass": "IOPlatformExpertDevice",
                                             "IORegistryEntryName": "Mac"}]}
    text = plistlib.dumps(document).decode()
    for codec in ("utf-16-le", "utf-16-be"):
        model = parse_archive(text.encode(codec), source="u.plist")
        assert model.name == "mac"
