"""Reading ioreg's tree layout: node headers, property blocks, damage read past or refused."""

from __future__ import annotations

import pytest

from iokit_host.errors import Diagnostic
from iokit_host.ioreg_import import IoregDumpInvalid, parse_dump, read_tree
from iokit_host.machine.model import MachineModel

MODERN = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  | {
  |   "IOKitBuildVersion" = "Darwin Kernel Version 11.4.2"
  | }
  | 
  +-o MacBookPro8,2  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0 (32909 ms), retain 42>
    | {
    |   "compatible" = <"MacBookPro8,2">
    | }
    | 
    +-o PCI0@0  <class IOACPIPlatformDevice, id 0x100000138, registered, matched, active, busy 0 (7546 ms), retain 56>
    | | {
    | |   "compatible" = <"PNP0A03">
    | |   "IO80211HardwareVersion" = "vendorid: 0x14e4
deviceid: 0x4328"
    | | }
    | | 
    | +-o AppleACPIPCI  <class AppleACPIPCI, id 0x1000001d9, registered, matched, active, busy 0 (7541 ms), retain 39>
    |     {
    |       "IOClass" = "AppleACPIPCI"
    |       "IOProviderClass" = "IOACPIPlatformDevice"
    |       "IONameMatch" = "PNP0A03"
    |     }
    |     
    +-o IOResources  <class IOResources, id 0x100000112, registered, matched, active, busy 0 (0 ms), retain 30>
        {
          "IOKit" = "IOService"
        }
        
"""


def test_modern_dump_becomes_a_model_with_recorded_drivers() -> None:
    model = parse_dump(MODERN, source="mbp.txt")
    assert model.root.class_name == "IOPlatformExpertDevice"
    assert model.root_properties["IOKitBuildVersion"] == "Darwin Kernel Version 11.4.2"
    pci0, resources = model.root.children
    assert (pci0.name, pci0.location, pci0.id) == ("PCI0", "0", "0x100000138")
    assert pci0.properties["IO80211HardwareVersion"] == "vendorid: 0x14e4\ndeviceid: 0x4328"
    (driver,) = pci0.children
    assert driver.recorded_driver and not pci0.recorded_driver
    assert driver.name is None  # name equals the class name
    assert resources.properties == {"IOKit": "IOService"}


def test_old_headers_and_tree_only_dumps() -> None:
    text = ("+-o Root  <class IORegistryEntry, retain count 12>\n"
            "  +-o AAPL,PowerBook  <class IOPlatformExpertDevice, retain count 20>\n"
            "    +-o pci@f2000000  <class IOPCIDevice, retain count 9>\n")
    model = parse_dump(text)
    (pci,) = model.root.children
    assert (pci.class_name, pci.name, pci.location) == ("IOPCIDevice", "pci", "f2000000")
    assert not pci.recorded_driver and dict(pci.properties) == {}


def test_inheritance_chains_become_declared_classes() -> None:
    text = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 9>\n"
            "  +-o Mac  <class IORegistryEntry:IOService:IOPlatformExpertDevice, id 0x100000110,"
            " registered, matched, active, busy 0, retain 4>\n"
            "    +-o X  <class IORegistryEntry:IOService:IOFramebuffer:NVDA, id 0x100000111,"
            " !registered, !matched, active, busy 0, retain 4>\n")
    model = parse_dump(text)
    assert model.classes["NVDA"] == "IOFramebuffer"
    assert model.root.children[0].class_name == "NVDA"


def test_device_tree_plane_is_detected() -> None:
    text = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
            "  +-o /  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 40>\n"
            "    | {\n    |   \"model\" = <\"MacBookPro8,2\">\n    | }\n"
            "    +-o chosen  <class IOService, id 0x100000101, !registered, retain 6>\n")
    model = parse_dump(text)
    # Only the device-tree root is the platform nub: the other nodes sit in IODeviceTree alone.
    assert model.root.children == ()
    assert model.root.planes[0].plane == "IODeviceTree"
    assert model.root.planes[0].name == "/"
    (chosen,) = model.entries
    assert chosen.planes[0].plane == "IODeviceTree"
    assert chosen.planes[0].parent == "0x100000110"
    assert model.name == "macbookpro8,2"


def test_multi_parent_entries_are_one_nub_with_extra_links() -> None:
    text = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
            "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"
            "    +-o A  <class IOService, id 0x100000111, registered, retain 4>\n"
            "    | +-o Shared  <class IOService, id 0x100000200, registered, retain 4>\n"
            "    |   +-o Child  <class IOService, id 0x100000201, registered, retain 4>\n"
            "    +-o B  <class IOService, id 0x100000112, registered, retain 4>\n"
            "      +-o Shared  <class IOService, id 0x100000200, registered, retain 4>\n"
            "        +-o Child  <class IOService, id 0x100000201, registered, retain 4>\n")
    model = parse_dump(text)
    a, b = model.root.children
    assert a.children[0].planes[0].plane == "IOService"
    assert a.children[0].planes[0].parent == "0x100000112"
    assert b.children == ()


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("", 1, "no entry lines"),
    ("hello world\n", 1, "not an ioreg dump"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n      +-o X  <class Y, retain 1>\n", 2,
     "indented"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n  | {\n  |   \"a\" = <abc>\n  | }\n", 3,
     "odd number"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n  | {\n  |   \"a\" = 1\n", 1, "never closes"),
    ("+-o Root  no header\n", 1, "header"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n+-o Root  <class IORegistryEntry, retain 1>\n",
     2, "second root"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n  | {\n  |   \"a\" = (1,$\n  | }\n", 3,
     "'a'"),
])
def test_strict_errors_name_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(IoregDumpInvalid) as info:
        read_tree(text, "dump.txt")  # without a damage log: strict
    diagnostic = info.value.diagnostic
    assert diagnostic.reference == "ioreg-dump-invalid"
    assert diagnostic.file == "dump.txt"
    assert diagnostic.key == f"line {line}"
    assert reason in diagnostic.message


def warnings(model: MachineModel) -> dict[str, Diagnostic]:
    found = {d.reference: d for d in model.diagnostics}
    assert len(found) == len(model.diagnostics), "one warning per kind of damage"
    return found


def names(model: MachineModel) -> list[str]:
    return [nub.name or nub.class_name for _, nub in model.nubs()]


ROOT = "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
MAC = "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"


def entry(depth: int, name: str, number: int, block: str | None = None) -> str:
    glyphs = "  " * depth
    text = f"{glyphs}+-o {name}  <class IOService, id 0x1000002{number:02x}, registered, retain 4>\n"
    if block is not None:
        text += f"{glyphs}  {{\n{glyphs}    {block}\n{glyphs}  }}\n"
    return text


def test_clean_dump_has_no_warnings() -> None:
    assert parse_dump(MODERN).diagnostics == ()


def test_shell_noise_around_the_dump_is_skipped_with_one_warning() -> None:
    text = "Last login: Mon\nuser@mac ~ % ioreg -lw0\n" + MODERN + "user@mac ~ % \n"
    model = parse_dump(text, source="mbp.txt")
    assert model == parse_dump(MODERN, source="mbp.txt")
    noise = warnings(model)["ioreg-dump-noise"]
    assert (noise.key, noise.file, noise.context["count"]) == ("line 1", "mbp.txt", 3)


def test_unreadable_values_are_dropped_and_counted_once_per_kind() -> None:
    text = ROOT + MAC + entry(2, "A", 1) + """\
      {
        "bad" = (1,2
        "good" = 7
        "worse" = <abc>
      }
"""
    model = parse_dump(text)
    (a,) = model.root.children
    assert dict(a.properties) == {"good": 7}
    bad = warnings(model)["ioreg-dump-bad-value"]
    assert bad.key == "line 5" and bad.context["count"] == 2 and "'bad'" in bad.message


def test_redacted_strings_are_kept_and_redacted_data_and_numbers_dropped() -> None:
    text = ROOT + MAC + entry(2, "en0", 1) + """\
      {
        "IOPlatformSerialNumber" = "C02****"
        "IOMACAddress" = <3c07****c7a5>
        "IOLinkSpeed" = XXXX
        "IOMTU" = 1500
      }
"""
    model = parse_dump(text)
    (en0,) = model.root.children
    assert dict(en0.properties) == {"IOPlatformSerialNumber": "C02****", "IOMTU": 1500}
    redacted = warnings(model)["ioreg-dump-redacted"]
    assert redacted.context["count"] == 3 and redacted.key == "line 5"


@pytest.mark.parametrize("cut", [
    '      {\n        "IOClass" = "Drv"\n        "IOProviderClass" = "IOSer',  # mid-property
    '      {\n        "IOClass" = "Drv"\n',  # mid-block
    "",  # right after the entry line, in a dump where every entry has a block
])
def test_a_cut_tail_drops_the_entry_it_cut_and_says_so(cut: str) -> None:
    text = (ROOT + "  | {\n  | }\n" + MAC.rstrip("\n") + "\n    | {\n    | }\n"
            + entry(2, "Kept", 1, '"a" = 1') + "    +-o Drv  <class Drv, id 0x100000300, "
            "registered, retain 4>\n" + cut)
    model = parse_dump(text, source="cut.txt")
    assert names(model) == ["Mac", "Kept"]
    truncated = warnings(model)
    assert list(truncated) == ["ioreg-dump-truncated"]
    assert "'Drv'" in truncated["ioreg-dump-truncated"].message


def test_a_tail_cut_inside_an_entry_line_drops_that_entry() -> None:
    text = ROOT + MAC + entry(2, "Kept", 1) + "    +-o Drv  <class Dr"
    model = parse_dump(text)
    assert names(model) == ["Mac", "Kept"]
    assert warnings(model)["ioreg-dump-truncated"].key == "line 4"


def test_an_entry_that_cannot_be_placed_is_dropped_with_its_subtree_only() -> None:
    text = (ROOT + MAC + entry(2, "A", 1) + "       +-o Odd  <class IOService, retain 1>\n"
            + entry(4, "UnderOdd", 2) + entry(2, "B", 3) + entry(3, "UnderB", 4))
    model = parse_dump(text)
    assert names(model) == ["Mac", "A", "B", "UnderB"]
    bad = warnings(model)["ioreg-dump-bad-entry"]
    assert bad.key == "line 4" and "column 7" in bad.message
    assert bad.context["lost"] == 1 and "1 entries below" in bad.message


def test_a_second_registry_is_dropped_and_the_first_kept() -> None:
    model = parse_dump(ROOT + MAC + entry(2, "A", 1) + ROOT + MAC)
    assert names(model) == ["Mac", "A"]
    assert warnings(model)["ioreg-dump-bad-entry"].context["lost"] == 1


def test_a_block_cut_off_by_an_entry_line_keeps_what_was_read() -> None:
    text = (ROOT + MAC + entry(2, "A", 1) + '      {\n        "a" = 1\n'
            + entry(2, "B", 2, '"b" = 2'))
    model = parse_dump(text)
    a, b = model.root.children
    assert dict(a.properties) == {"a": 1} and dict(b.properties) == {"b": 2}
    assert warnings(model)["ioreg-dump-cut-block"].key == "line 6"


def test_a_clipped_header_keeps_its_class_name_and_id() -> None:
    text = ROOT + MAC + ("    +-o A  <class IOService, id 0x100000201, registered, matched, "
                         "act\n") + entry(2, "B", 2)
    model = parse_dump(text)
    a, _ = model.root.children
    assert (a.class_name, a.id) == ("IOService", "0x100000201")
    assert "ioreg-dump-clipped" in warnings(model)


def test_a_headless_dump_gets_a_root_and_keeps_its_platform_entry() -> None:
    text = MAC.removeprefix("  ") + entry(1, "A", 1)
    model = parse_dump(text)
    assert model.root.class_name == "IOPlatformExpertDevice" and names(model) == ["Mac", "A"]
    assert warnings(model)["ioreg-dump-no-root"].key == "line 1"


def test_a_repeated_entry_line_keeps_the_block_and_subtree_that_follow_it() -> None:
    a_line = "    +-o A  <class IOService, id 0x100000201, registered, retain 4>\n"
    text = (ROOT + MAC + a_line + a_line + '      {\n        "a" = 1\n      }\n'
            + entry(3, "Child", 2))
    model = parse_dump(text)
    (a,) = model.root.children
    assert dict(a.properties) == {"a": 1} and a.planes == ()
    assert [child.name for child in a.children] == ["Child"]
    assert warnings(model)["ioreg-dump-repeated-entry"].key == "line 4"


def test_a_line_repeated_under_itself_is_not_a_cycle() -> None:
    text = ROOT + MAC + entry(2, "A", 1) + entry(3, "A", 1) + entry(4, "Child", 2)
    model = parse_dump(text)
    (a,) = model.root.children
    assert [child.name for child in a.children] == ["Child"] and a.planes == ()
    assert "ioreg-dump-repeated-entry" in warnings(model)


def test_strict_refuses_the_first_damage_with_its_line() -> None:
    text = "$ ioreg -lw0\n" + MODERN
    with pytest.raises(IoregDumpInvalid) as info:
        parse_dump(text, source="d.txt", strict=True)
    assert info.value.diagnostic.key == "line 1" and "strict" in str(info.value.diagnostic.hint)


def test_strict_follows_iokit_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    text = MODERN.replace("\n", "\r\n")
    assert "ioreg-dump-line-endings" in warnings(parse_dump(text))
    monkeypatch.setenv("IOKIT_STRICT", "1")
    with pytest.raises(IoregDumpInvalid, match="CRLF"):
        parse_dump(text)
    assert parse_dump(text, strict=False).diagnostics


def test_huge_numbers_and_deep_values_in_a_dump_are_refused_with_line_and_reason() -> None:
    text = (ROOT + MAC + entry(2, "A", 1) + '      {\n        "n" = ' + "9" * 5000
            + '\n        "deep" = ' + "(" * 100_000 + ")" * 100_000 + '\n        "ok" = 1\n'
            "      }\n")
    model = parse_dump(text)
    assert dict(model.root.children[0].properties) == {"ok": 1}
    bad = warnings(model)["ioreg-dump-bad-value"]
    assert bad.key == "line 5" and "wider than 64 bits" in bad.message
    assert bad.context["count"] == 2
    with pytest.raises(IoregDumpInvalid) as info:
        parse_dump(text, strict=True)
    assert info.value.diagnostic.key == "line 5"
    deep = text.replace('"n" = ' + "9" * 5000, '"n" = 1')
    with pytest.raises(IoregDumpInvalid, match="nested deeper"):
        parse_dump(deep, strict=True)


@pytest.mark.parametrize("edited", ["0xXXXXXXXXX", "0x1000****", "<redacted>", "0xZZ", "0x",
                                    "0x" + "f" * 17])
def test_an_entry_whose_id_was_edited_is_kept_without_it(edited: str) -> None:
    text = (ROOT.replace("0x100000100", edited) + MAC.replace("0x100000110", edited)
            + entry(2, "A", 1, '"a" = 1'))
    model = parse_dump(text, source="ids.txt")
    assert names(model) == ["Mac", "A"]
    assert model.root.id == "line-2" and model.root.children[0].id == "0x100000201"
    bad = warnings(model)["ioreg-dump-bad-id"]
    assert (bad.key, bad.context["count"]) == ("line 1", 2) and edited[:8] in bad.message


@pytest.mark.parametrize("root_line", ["+-o Root  <clas IORegistryEntry, id 0x100000100>\n",
                                       "+-o Root  <class , id 0x100000100, retain 10>\n",
                                       "+-o Root\n"])
def test_a_damaged_root_line_costs_the_root_line_not_the_registry(root_line: str) -> None:
    model = parse_dump(root_line + MAC + entry(2, "A", 1, '"a" = 1'), source="root.txt")
    assert names(model) == ["Mac", "A"]
    bad = warnings(model)["ioreg-dump-bad-entry"]
    assert bad.key == "line 1" and "root was put in its place" in bad.message
