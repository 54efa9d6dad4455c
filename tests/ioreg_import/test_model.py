"""From a read dump to a machine model: what damage beside the platform entry costs."""

from __future__ import annotations

from iokit_host.conformance import check_model
from iokit_host.host import IOKitHost
from iokit_host.ioreg_import import parse_dump
from iokit_host.machine import dump_machine, parse_machine

TEXT = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>
    +-o A  <class IOService, id 0x100000111, registered, retain 4>
  +-o Other  <class IOService, id 0x100000999, registered, retain 4>
    +-o A  <class IOService, id 0x100000111, registered, retain 4>
    +-o B  <class IOService, id 0x100000112, registered, retain 4>
"""


def test_entries_beside_the_platform_entry_are_dropped_with_a_warning() -> None:
    model = parse_dump(TEXT, source="d.txt")
    assert [nub.name for _, nub in model.nubs()] == ["Mac", "A"]
    (warning,) = model.diagnostics
    assert (warning.reference, warning.key) == ("ioreg-dump-bad-entry", "line 4")
    assert warning.context["lost"] == 1  # B; A is in the model under Mac


def test_a_reprint_under_a_dropped_entry_names_no_missing_parent() -> None:
    model = parse_dump(TEXT, source="d.txt")
    (a,) = model.root.children
    assert a.planes == ()  # 'Other' is not in the model, so it is no parent of A
    assert check_model(model).attachments == 0  # the model builds


def test_a_class_chain_naming_a_class_twice_costs_only_the_closing_link() -> None:
    # A : B : A in one chain stopped the whole boot ("class ancestry of
    # IOPlatformExpertDevice loops through A", no file named).
    from iokit_host.host import IOKitHost

    model = parse_dump("""\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IORegistryEntry:IOService:A:B:A:IOPlatformExpertDevice, id 0x100000110, registered, retain 4>
    +-o X  <class IORegistryEntry:IOService:B:A:Widget, id 0x100000111, registered, retain 4>
""", source="d.txt")
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-bad-class-chain" and warning.file == "d.txt"
    assert warning.key == "line 2"
    host = IOKitHost(model, kexts=[]).boot()
    widget = host.find("X")
    assert widget is not None and widget.meta_cast("A") and widget.meta_cast("IOService")


HEAD = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IORegistryEntry:IOService:IOPlatformExpertDevice, id 0x100000110, registered, retain 4>
"""


def _entry(name: str, chain: str, number: int) -> str:
    return f"    +-o {name}  <class {chain}, id 0x{0x100000200 + number:x}, registered, retain 4>\n"


def test_what_a_dump_boots_with_its_imported_model_reads_back() -> None:
    """A class chain of 300, a ring of 300 classes and a property of 100,000 dictionaries
    each made 'iokit machine import' refuse the whole dump ('imports to no bootable
    machine'), while booting the dump itself took them: the model reader counted a chain,
    a loop and a value's items otherwise than the dump's reader did."""
    from iokit_host.machine import dump_machine
    from iokit_host.machine.format import parse_machine

    long_chain = ":".join(["IORegistryEntry", "IOService", *(f"C{i}" for i in range(300))])
    ring = "".join(_entry(f"R{i}", f"IORegistryEntry:IOService:K{(i + 1) % 300}:K{i}", i)
                   for i in range(300))
    items = "{" + ",".join(['{"v"=<86800000>}'] * 100_000)
    text = (HEAD + _entry("Deep", long_chain, 400) + ring
            + _entry("Big", "IORegistryEntry:IOService", 401)
            + f'      {{\n        "k" = ({items[1:]})\n      }}\n')
    model = parse_dump(text, source="d.txt")
    assert {d.reference for d in model.diagnostics} == {"ioreg-dump-bad-class-chain"}
    written = parse_machine(dump_machine(model), source="m.toml")  # its reader takes it
    assert written.classes == model.classes
    big = next(nub for _, nub in written.nubs() if nub.name == "Big")
    assert len(big.properties["k"]) == 100_000


def test_an_iokit_resources_printed_below_a_device_is_moved_back_under_the_platform() -> None:
    # Edited indentation put IOResources under a device; the file format (and a boot) hold
    # it under the platform device, as IOKit attaches it: moved back, nothing lost.
    text = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>
    +-o Dev  <class IOService, id 0x100000111, registered, retain 4>
      +-o IOResources  <class IOResources, id 0x100000113, registered, retain 4>
        +-o IODisplayWrangler  <class IODisplayWrangler, id 0x100000114, registered, retain 4>
    +-o B  <class IOService, id 0x100000112, registered, retain 4>
"""
    model = parse_dump(text, source="d.txt")
    assert [nub.name or nub.class_name for nub in model.root.children] == ["Dev", "B",
                                                                           "IOResources"]
    (resources,) = [nub for nub in model.root.children if nub.class_name == "IOResources"]
    assert [child.class_name for child in resources.children] == ["IODisplayWrangler"]
    (warning,) = model.diagnostics
    assert (warning.reference, warning.key) == ("ioreg-dump-misplaced-resources", "line 4")
    assert "under 'Dev'" in warning.message
    assert parse_machine(dump_machine(model)).root == model.root  # imports, reads back
    IOKitHost(machine=model).boot()
