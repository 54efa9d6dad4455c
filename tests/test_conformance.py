"""Conformance: replaying the bindings recorded in ioreg dumps through passive matching."""

from __future__ import annotations

from pathlib import Path

from iokit_host.conformance import (
    check_model,
    read_classes,
    recorded_personality,
    run_conformance,
)
from iokit_host.ioreg_import import parse_dump

DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0, retain 4>
    +-o PCI0@0  <class IOACPIPlatformDevice, id 0x100000138, registered, matched, active, busy 0, retain 5>
    | | {
    | |   "name" = <"PNP0A08">
    | |   "compatible" = <"PNP0A03">
    | | }
    | | 
    | +-o AppleACPIPCI  <class AppleACPIPCI, id 0x1000001d9, registered, matched, active, busy 0, retain 5>
    |   | {
    |   |   "IOClass" = "AppleACPIPCI"
    |   |   "IOProviderClass" = "IOACPIPlatformDevice"
    |   |   "IONameMatch" = "PNP0A03"
    |   |   "IONameMatched" = "PNP0A03"
    |   |   "IOPowerManagement" = {"CurrentPowerState"=2}
    |   | }
    |   | 
    |   +-o GIGE@0  <class IOPCIDevice, id 0x100000200, registered, matched, active, busy 0, retain 5>
    |     | {
    |     |   "vendor-id" = <e4140000>
    |     |   "device-id" = <b4160000>
    |     |   "class-code" = <00000200>
    |     | }
    |     | 
    |     +-o BCM5701Enet  <class BCM5701Enet, id 0x100000201, registered, matched, active, busy 0, retain 5>
    |     |   {
    |     |     "IOClass" = "BCM5701Enet"
    |     |     "IOProviderClass" = "IOPCIDevice"
    |     |     "IOPCIMatch" = "0x16b414e4"
    |     |   }
    |     |   
    |     +-o WrongDriver  <class WrongDriver, id 0x100000202, registered, matched, active, busy 0, retain 5>
    |         {
    |           "IOClass" = "WrongDriver"
    |           "IOProviderClass" = "IOPCIDevice"
    |           "IOPCIMatch" = "0x16b414e4"
    |           "IOPCIClassMatch" = "0x03000000&0xff000000"
    |         }
    |         
    +-o IOResources  <class IOResources, id 0x100000112, registered, matched, active, busy 0, retain 30>
        | {
        |   "IOKit" = "IOService"
        | }
        | 
      +-o Plugin  <class Plugin, id 0x100000300, registered, matched, active, busy 0, retain 5>
            {
              "IOClass" = "Plugin"
              "IOProviderClass" = "IOResources"
              "IOResourceMatch" = "IOBSD"
            }
            
"""


def test_replay_accepts_real_bindings_and_names_the_failing_key() -> None:
    result = check_model(parse_dump(DUMP, source="mini.txt"))
    assert (result.file, result.attachments, result.accepted) == ("mini.txt", 4, 2)
    by_class = {r.class_name: r for r in result.rejected}
    assert by_class["WrongDriver"].key == "IOPCIClassMatch"
    assert "GIGE" in by_class["WrongDriver"].reason
    assert by_class["WrongDriver"].path.endswith("/GIGE@0/WrongDriver")
    assert by_class["Plugin"].key == "IOResourceMatch"  # IOBSD is not published there


def test_recorded_personality_drops_run_time_state_and_matching_output() -> None:
    props = {"IOClass": "X", "IOProviderClass": "IOPCIDevice", "IONameMatched": "a",
             "IOPowerManagement": {}, "Statistics": {"n": 1}, "IOPCIMatch": "0x1",
             "idVendor": 5, "IOPropertyMatch": {"a": 1}}
    assert recorded_personality(props) == {"IOClass": "X", "IOProviderClass": "IOPCIDevice",
                                           "IOPCIMatch": "0x1", "idVendor": 5,
                                           "IOPropertyMatch": {"a": 1}}


def test_report_json_shape(tmp_path: Path) -> None:
    dump = tmp_path / "mini.txt"
    dump.write_text(DUMP)
    data = run_conformance([dump]).to_json()
    assert set(data) == {"dumps", "attachments", "accepted", "recall", "unreadable"}
    assert data["recall"] == 0.5
    assert set(data["dumps"][0]) == {"file", "attachments", "accepted", "rejected"}
    assert set(data["dumps"][0]["rejected"][0]) == {"path", "class", "key", "reason"}


def test_corpus_recall_and_every_rejection_explained(corpus: Path) -> None:
    report = run_conformance(sorted((corpus / "ioreg").glob("*.txt")))
    with_properties = [d for d in report.dumps if d.attachments]
    assert len(with_properties) == 3
    assert report.attachments > 400
    # Remaining rejections: vendor driver classes whose ancestry only `ioreg -i` shows,
    # and providers whose properties changed after the match (see the module doc).
    assert report.recall is not None and report.recall >= 0.85
    # With iokit_host.matching.class_table (NVDA, the Bluetooth serial streams): 395 of 428.
    assert report.accepted >= 395 and report.recall >= 0.92
    providers = {r.reason.split(":", 1)[0] for d in with_properties for r in d.rejected}
    assert not any("(NVDA)" in p or "SerialClient" in p for p in providers)
    for dump in with_properties:
        for rejection in dump.rejected:
            assert rejection.key and rejection.key != "matchPropertyTable"
            assert rejection.reason.startswith("provider ")
            if rejection.key == "IOProviderClass":
                assert "ancestry" in rejection.reason
            if rejection.key == "IONameMatch" and "(IOPlatformExpertDevice)" in rejection.reason:
                assert "boot-132" in rejection.reason
            if rejection.key == "IOPropertyMatch":
                assert "NVDAgl (nubType 'NVDAgl')" in rejection.reason


VENDOR_DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0, retain 4>
    +-o VendorDisk  <class VendorDisk, id 0x100000120, registered, matched, active, busy 0, retain 5>
    | +-o IOBlockStorageDriver  <class IOBlockStorageDriver, id 0x100000121, registered, matched, active, busy 0, retain 5>
    |     {
    |       "IOClass" = "IOBlockStorageDriver"
    |       "IOProviderClass" = "IOBlockStorageDevice"
    |     }
    |     
    +-o OtherDisk  <class OtherDisk, id 0x100000130, registered, matched, active, busy 0, retain 5>
      +-o IOBlockStorageDriver  <class IOBlockStorageDriver, id 0x100000131, registered, matched, active, busy 0, retain 5>
          {
            "IOClass" = "IOBlockStorageDriver"
            "IOProviderClass" = "IOBlockStorageDevice"
          }
          
"""


def test_declared_classes_fill_ancestry_the_dump_does_not_show(tmp_path: Path) -> None:
    dump = tmp_path / "vendor.txt"
    dump.write_text(VENDOR_DUMP)
    classes_file = tmp_path / "classes.toml"
    classes_file.write_text('[classes]\nVendorDisk = "IOBlockStorageDevice"\n')
    before = run_conformance([dump]).dumps[0]
    after = run_conformance([dump], classes=read_classes(classes_file)).dumps[0]
    assert (before.attachments, before.accepted) == (2, 0)
    assert (after.attachments, after.accepted) == (2, 1)
    (still,) = after.rejected
    assert still == before.rejected[1]
    assert still.key == "IOProviderClass" and "OtherDisk is not a IOBlockStorageDevice" in still.reason
    assert "--classes" in still.reason


MOVED_DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac1,1  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0, retain 4>
    | {
    |   "compatible" = <"Mac1,1">
    |   "model" = <"Mac1,1">
    |   "name" = <"/">
    | }
    | 
    +-o AppleACPIPlatformExpert  <class AppleACPIPlatformExpert, id 0x100000111, registered, matched, active, busy 0, retain 5>
    |   {
    |     "IOClass" = "AppleACPIPlatformExpert"
    |     "IOProviderClass" = "IOPlatformExpertDevice"
    |     "IONameMatch" = "ACPI"
    |     "IONameMatched" = "ACPI"
    |   }
    |   
    +-o GFX0@0  <class IOPCIDevice, id 0x100000200, registered, matched, active, busy 0, retain 5>
      +-o NVDAgl  <class IOService, id 0x100000201, registered, matched, active, busy 0, retain 5>
      |   {
      |     "nubType" = "NVDAgl"
      |   }
      |   
      +-o NVKernel  <class NVKernel, id 0x100000202, registered, matched, active, busy 0, retain 5>
          {
            "IOClass" = "NVKernel"
            "IOProviderClass" = "IOService"
            "IOPropertyMatch" = {"nubType"="NVDAgl"}
            "IOMatchCategory" = "IOAccelerator"
          }
          
"""


def test_rejections_say_when_the_dump_shows_state_from_after_the_match() -> None:
    result = check_model(parse_dump(MOVED_DUMP, source="moved.txt"))
    by_class = {r.class_name: r for r in result.rejected}
    assert (result.attachments, result.accepted) == (2, 0)
    # The booter's root said "ACPI"; what the dump shows was written after matching.
    platform = by_class["AppleACPIPlatformExpert"]
    assert platform.key == "IONameMatch"
    assert "compatible and model 'ACPI' (boot-132 getPlatformName)" in platform.reason
    # The property the table wants is on a nub beside the driver, not on its provider.
    kernel = by_class["NVKernel"]
    assert kernel.key == "IOPropertyMatch"
    assert kernel.reason.endswith("the provider's clients carry it: NVDAgl (nubType 'NVDAgl')")
