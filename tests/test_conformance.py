"""Conformance: replaying the bindings recorded in ioreg dumps through passive matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from iokit_host.conformance import (
    CATEGORIES,
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
    assert set(data["dumps"][0]) == {"file", "attachments", "accepted", "rejected", "ancestry",
                                     "release"}
    assert set(data["dumps"][0]["rejected"][0]) == {"path", "class", "key", "category",
                                                    "reason"}
    assert {r["category"] for r in data["dumps"][0]["rejected"]} <= set(CATEGORIES)


def test_corpus_recall_and_every_rejection_explained(corpus: Path) -> None:
    report = run_conformance(sorted((corpus / "ioreg").glob("*.txt")))
    with_properties = [d for d in report.dumps if d.attachments]
    assert len(with_properties) == 3
    assert report.attachments > 400
    # With the public knowledge base (iokit_host.matching.ancestry), chosen for each dump's
    # OS build: 424 of 428. The rest are providers whose state changed after the match.
    assert report.recall is not None and report.recall >= 0.99
    assert report.accepted >= 424
    categories = {r.category for d in with_properties for r in d.rejected}
    assert categories <= set(CATEGORIES) and "unknown-ancestry" not in categories
    assert all(d.ancestry for d in with_properties)
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


def _mccs_dump(build: str, chain: str = "AppleMCCSControlModule") -> str:
    return f"""\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  | {{
  |   "OS Build Version" = "{build}"
  | }}
  | 
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0, retain 4>
    +-o AppleMCCSControlModule  <class {chain}, id 0x100000120, registered, matched, active, busy 0, retain 5>
    | +-o AppleMCCSParameterHandler  <class AppleMCCSParameterHandler, id 0x100000121, registered, matched, active, busy 0, retain 5>
    |     {{
    |       "IOClass" = "AppleMCCSParameterHandler"
    |       "IOProviderClass" = "AppleMCCSControlFamily"
    |     }}
    |     
    +-o AppleHDAEngineOutput@1B,0,1,2  <class AppleHDAEngineOutput, id 0x100000130, registered, matched, active, busy 0, retain 5>
    | +-o AudioAUUCDriver  <class AudioAUUCDriver, id 0x100000131, registered, matched, active, busy 0, retain 5>
    |     {{
    |       "IOClass" = "AudioAUUCDriver"
    |       "IOProviderClass" = "IOAudioEngine"
    |     }}
    |     
    +-o VendorThing  <class VendorThing, id 0x100000140, registered, matched, active, busy 0, retain 5>
      +-o VendorDriver  <class VendorDriver, id 0x100000141, registered, matched, active, busy 0, retain 5>
          {{
            "IOClass" = "VendorDriver"
            "IOProviderClass" = "IOFramebuffer"
          }}
          
"""


def test_ancestry_follows_the_build_the_dump_records_and_says_where_it_came_from() -> None:
    # AppleMCCSControlModule became an AppleMCCSControlFamily in 10.7.4 (11E2705): on a
    # 10.7.0 machine (11A511) macOS could not have bound this personality to it.
    old = check_model(parse_dump(_mccs_dump("11A511"), source="old.txt"))
    new = check_model(parse_dump(_mccs_dump("12C60"), source="new.txt"))
    assert (new.attachments, new.accepted) == (3, 2)
    assert (old.release, new.release) == ("11A511", "12C60")
    assert (old.attachments, old.accepted) == (3, 1)
    mismatch = {r.class_name: r for r in old.rejected}["AppleMCCSParameterHandler"]
    assert mismatch.category == "class-mismatch"
    assert "AppleMCCSControlModule : IOService from archive chain" in mismatch.reason
    uses = {use.provider_class: use.describe() for use in new.ancestry}
    assert uses["AppleHDAEngineOutput"].startswith(
        "AppleHDAEngineOutput is an IOAudioEngine (AppleHDAEngineOutput : AppleHDAEngine, "
        "archive chain, ")
    assert "chosen for 12C60" in uses["AppleMCCSControlModule"]


def test_the_dumps_own_chain_wins_over_the_public_tables() -> None:
    # ioreg -i recorded the chain on this machine: it decides, whatever the tables say.
    dump = _mccs_dump("11A511", chain="IORegistryEntry:IOService:AppleMCCSControlFamily:"
                                      "AppleMCCSControlModule")
    result = check_model(parse_dump(dump, source="recorded.txt"))
    assert "AppleMCCSParameterHandler" not in {r.class_name for r in result.rejected}
    use = next(u for u in result.ancestry if u.provider_class == "AppleMCCSControlModule")
    assert [f.kind for f in use.facts] == ["recorded"]
    assert "recorded by this machine" in use.describe()


def test_corpus_archives_recall_with_their_own_recorded_chains(corpus: Path) -> None:
    archives = sorted((corpus / "archives").glob("*.ioreg"))
    if not archives:
        pytest.skip("no IORegistryExplorer archives in the corpus")
    report = run_conformance(archives)
    assert report.unreadable == 0
    assert report.recall is not None and report.recall >= 0.99
    for dump in report.dumps:
        assert dump.release is not None  # each archive's root records its OS build
        assert {r.category for r in dump.rejected} <= {"post-boot-state"}
        # The machine's own chains decide; the public tables are not needed for them.
        kinds = {fact.kind for use in dump.ancestry for fact in use.facts}
        assert kinds == {"recorded"}


def test_a_zipped_dump_is_measured_as_the_dump_it_holds(tmp_path: Path) -> None:
    # Boot read a zipped dump; conformance read the zip's bytes as a dump and refused them.
    import zipfile

    plain = tmp_path / "mini.txt"
    plain.write_text(DUMP)
    zipped = tmp_path / "mini.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Mac/IOReg.txt", DUMP)
    plain_report, zipped_report = run_conformance([plain, zipped]).dumps
    assert zipped_report.error is None
    assert (zipped_report.attachments, zipped_report.accepted) == (
        plain_report.attachments, plain_report.accepted) == (4, 2)
