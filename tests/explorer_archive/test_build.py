"""An archive becomes a machine with every plane, its chains, its state and its drivers."""

from __future__ import annotations

import plistlib

from iokit_host.conformance import check_model
from iokit_host.explorer_archive import parse_archive
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.machine import dump_machine, parse_machine
from iokit_host.machine.bootable import check_bootable
from tests.explorer_archive.archivekit import Entry, archive_bytes, small_machine


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


class _CountingLinks(dict[int, list[tuple[str, int]]]):
    """An entry's extra links that count how often all of them are read."""

    reads = 0

    def items(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().items()


def test_many_looping_links_are_dropped_in_one_pass() -> None:
    # Pairs of entries that are each other's IODeviceTree parent: each pair is a loop. The
    # links were rebuilt and searched again after each one dropped (quadratic: 2,000 pairs
    # took 4 s); now one search per plane finds them all.
    from iokit_host.explorer_archive.build import _drop_loops
    from iokit_host.explorer_archive.damage import ArchiveDamage

    pairs = 300
    raw = _CountingLinks()
    for pair in range(pairs):
        first, second = 10 + 2 * pair, 11 + 2 * pair
        raw[first] = [("IODeviceTree", second)]
        raw[second] = [("IODeviceTree", first)]
    damage = ArchiveDamage("loops.ioreg", strict=False)
    _drop_loops(raw, {}, damage)
    assert raw.reads <= 2  # not once per loop found
    assert sum(len(links) for links in raw.values()) == pairs  # one link of each pair kept
    (warning,) = damage.diagnostics()
    assert warning.reference == "ioreg-archive-bad-link" and warning.context["count"] == pairs


def test_an_archive_of_looping_pairs_keeps_one_link_of_each() -> None:
    service, dt = "IOService", "IODeviceTree"
    entries = small_machine()
    for pair in range(40):
        entries += [Entry(f"a{pair}", ["IOService", "IORegistryEntry"],
                          parents={service: ["Mac-1"], dt: [f"b{pair}"]}),
                    Entry(f"b{pair}", ["IOService", "IORegistryEntry"],
                          parents={service: ["Mac-1"], dt: [f"a{pair}"]})]
    model = parse_archive(archive_bytes(entries), source="loops.ioreg")
    linked = [nub for _, nub in model.nubs() if (nub.name or "")[:1] in "ab" and nub.planes]
    assert len(linked) == 40
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-link"]
    assert warning.context["count"] == 40
    IOKitHost(machine=model).boot()  # what is kept loops nowhere


def test_an_iokit_resources_linked_below_a_device_is_moved_back_under_the_platform() -> None:
    # IOKit attaches IOResources to the platform device; a damaged link below a device must
    # not cost the machine (the file format refuses IOResources anywhere else).
    service = "IOService"
    entries = [*small_machine(),
               Entry("Dev", ["IOService", "IORegistryEntry"], parents={service: ["Mac-1"]}),
               Entry("IOResources", ["IOResources", "IOService", "IORegistryEntry"],
                     parents={service: ["Dev"]}),
               Entry("IODisplayWrangler", ["IODisplayWrangler", "IOService", "IORegistryEntry"],
                     parents={service: ["IOResources"]})]
    model = parse_archive(archive_bytes(entries), source="moved.ioreg")
    (resources,) = [nub for nub in model.root.children if nub.class_name == "IOResources"]
    assert [child.class_name for child in resources.children] == ["IODisplayWrangler"]
    assert resources.planes == ()  # no IOService link left to the device
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-misplaced-resources"
    assert parse_machine(dump_machine(model)).root == model.root  # imports, reads back
    IOKitHost(machine=model).boot()


def test_second_parents_that_show_a_plane_without_end_are_dropped_alone() -> None:
    # Forty entries each below the one before and the one before that (a damaged or forged
    # archive): printed along some 10**8 paths, the boot hung; now the links past the bound
    # are dropped with a warning and every entry is kept.
    entries = small_machine()
    above = ["Mac-1", "Mac-1"]
    for number in range(40):
        parents = [above[-1], above[-2]] if number else ["Mac-1"]
        entries.append(Entry(f"n{number}", ["IOService", "IORegistryEntry"],
                             parents={"IOService": parents}))
        above.append(f"n{number}")
    model = parse_archive(archive_bytes(entries), source="braid.ioreg")
    assert sum(1 for _, nub in model.nubs() if (nub.name or "").startswith("n")) == 40
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-link" and "paths" in warning.message
    check_bootable(model)  # what is left shows the plane within the bound
