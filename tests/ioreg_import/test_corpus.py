"""Every real dump in the corpus imports, quickly, with what the files show; damaged copies of
one import with a warning per kind of damage and keep every entry the damage did not touch."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from iokit_host.ioreg_import import IoregDumpInvalid, import_dump, parse_dump
from iokit_host.ioreg_import.redaction import looks_redacted
from iokit_host.machine.model import MachineModel


def test_all_corpus_dumps_import(corpus: Path) -> None:
    dumps = sorted((corpus / "ioreg").glob("*.txt"))
    assert len(dumps) >= 6
    started = time.perf_counter()
    for path in dumps:
        model = import_dump(path)
        assert model.source == str(path)
        assert sum(1 for _ in model.nubs()) + len(model.entries) > 100
    assert time.perf_counter() - started < 10


def test_macbookpro_dump_has_typed_pci_nubs_and_drivers(corpus: Path) -> None:
    model = import_dump(corpus / "ioreg" /
                        "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt")
    assert model.name == "macbookpro8,2"
    nubs = {nub.name: nub for _, nub in model.nubs() if nub.class_name == "IOPCIDevice"}
    assert nubs["MCHC"].properties["vendor-id"] == bytes.fromhex("86800000")
    drivers = [nub for _, nub in model.nubs() if nub.recorded_driver]
    assert any(d.class_name == "AppleACPIPCI" for d in drivers)
    assert len(model.root_properties["IOKitDiagnostics"]) > 3


def test_device_tree_dump_imports_as_device_tree_plane(corpus: Path) -> None:
    model = import_dump(corpus / "ioreg" /
                        "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IORegDT.txt")
    assert model.name == "macbookpro8,2"
    assert model.root.children == ()
    assert len(model.entries) > 100
    assert all(entry.planes[0].plane == "IODeviceTree" for entry in model.entries)
    assert not any(nub.recorded_driver for _, nub in model.nubs())


def test_device_tree_dump_boots_no_driver_on_device_tree_nodes(corpus: Path) -> None:
    from iokit_host.host import IOKitHost

    dump = corpus / "ioreg" / "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IORegDT.txt"
    host = IOKitHost(machine=str(dump))
    host.boot()
    tree = host.registry.plane_root("IODeviceTree")
    assert tree is not None and tree.get_name("IODeviceTree") == "/"
    names = {entry.get_name("IODeviceTree") for _, entry in host.registry.walk("IODeviceTree")}
    assert {"chosen", "efi", "cpus", "PCI0"} <= names
    platform = host.registry.plane_root("IOService")
    assert platform is not None
    nodes = [entry for _, entry in host.registry.walk("IODeviceTree", tree)][1:]
    # Device-tree nodes stay as the dump shows them: none is registered, none gets a driver.
    assert not any(entry.get_child_entries("IOService") for entry in nodes)


# -- damaged real dumps: only the damage is lost -------------------------------------------------

MBP = "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt"


def _lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\n")


def _redact(raw: bytes) -> bytes:
    raw = re.sub(rb'("IOPlatformSerialNumber" = "...)[^"]*"', rb'\1****"', raw)
    raw = re.sub(rb'("IOMACAddress" = <....)[0-9a-f]{4}', rb"\1****", raw)
    return re.sub(rb'("IOPCIExpressLinkStatus" = )[0-9]+', rb"\1XXXX", raw)


def _entry_line(raw: bytes, fraction: float) -> int:
    """The index of an entry line with a property block, about ``fraction`` into the dump."""
    lines = _lines(raw)
    start = int(len(lines) * fraction)
    return next(n for n in range(start, len(lines)) if b"+-o " in lines[n]
                and lines[n + 1].strip(b" |") == b"{")


def _cut_mid_property(raw: bytes) -> bytes:
    lines = _lines(raw)
    entry = _entry_line(raw, 0.6)
    return b"\n".join(lines[:entry + 3]) + b"\n" + lines[entry + 3][:25]


def _cut_mid_entry_line(raw: bytes) -> bytes:
    lines = _lines(raw)
    entry = _entry_line(raw, 0.6)
    return b"\n".join(lines[:entry]) + b"\n" + lines[entry][:len(lines[entry]) - 40]


def _repeat_an_entry_line(raw: bytes) -> bytes:
    lines = _lines(raw)
    entry = _entry_line(raw, 0.3)
    return b"\n".join([*lines[:entry + 1], lines[entry], *lines[entry + 1:]])


def _fold(raw: bytes, width: int = 80) -> bytes:
    """What ``fold -w 80`` (or a terminal that wraps) makes of the dump."""
    return b"\n".join(line[start:start + width] for line in _lines(raw)
                      for start in range(0, max(len(line), 1), width))


def _mail(raw: bytes, width: int = 76) -> bytes:
    """What a mail client makes of the dump: lines broken at a blank, the blank dropped."""
    text = raw.decode("utf-8", errors="surrogateescape")
    lines = [piece for line in text.split("\n")
             for piece in (textwrap.wrap(line, width) if len(line) > width else [line])]
    return "\n".join(lines).encode("utf-8", errors="surrogateescape")


DAMAGES = {
    "redacted": (_redact, "ioreg-dump-redacted"),
    "crlf": (lambda raw: raw.replace(b"\n", b"\r\n"), "ioreg-dump-line-endings"),
    "tab-indented": (lambda raw: b"\n".join(b"\t" + line for line in _lines(raw)),
                     "ioreg-dump-indent"),
    "tabified": (lambda raw: b"\n".join(re.sub(rb"^((?:  )+)", lambda m: b"\t" * (len(m[1]) // 2),
                                               line) for line in _lines(raw)),
                 "ioreg-dump-indent"),
    "prompt-line": (lambda raw: b"$ ioreg -lw0\n" + raw + b"\n$ ", "ioreg-dump-noise"),
    "not-utf8": (lambda raw: raw.replace(b"Darwin Kernel", b"Darwin K\xe9rnel", 1),
                 "ioreg-dump-not-utf8"),
    "repeated-line": (_repeat_an_entry_line, "ioreg-dump-repeated-entry"),
    "redacted-words": (lambda raw: re.sub(rb'("IOMACAddress" = )<[0-9a-f]*>', rb"\1<redacted>", raw),
                       "ioreg-dump-redacted"),
    "folded": (_fold, "ioreg-dump-wrapped"),
    "mail-wrapped": (_mail, "ioreg-dump-wrapped"),
    "curly-quotes": (lambda raw: re.sub(rb'"([^"\n]*)"', "\u201c\\1\u201d".encode(), raw),
                     "ioreg-dump-curly-quotes"),
    "nul-bytes": (lambda raw: raw.replace(b"\n", b"\x00\n"), "ioreg-dump-nul"),
    "root-line-damaged": (lambda raw: raw.replace(b"<class IORegistryEntry", b"<clas ", 1),
                          "ioreg-dump-bad-entry"),
}


@pytest.fixture(scope="module")
def mbp(corpus: Path) -> tuple[bytes, MachineModel]:
    path = corpus / "ioreg" / MBP
    return path.read_bytes(), import_dump(path)


@pytest.mark.parametrize("name", list(DAMAGES))
def test_a_damaged_real_dump_imports_with_a_warning_and_keeps_every_entry(
        name: str, mbp: tuple[bytes, MachineModel], tmp_path: Path) -> None:
    raw, clean = mbp
    damage, reference = DAMAGES[name]
    path = tmp_path / "posted.txt"
    path.write_bytes(damage(raw))
    model = import_dump(path)
    assert _entries(model) == _entries(clean)
    if name in ("redacted", "redacted-words", "not-utf8", "mail-wrapped"):  # values differ
        assert _shape(model) == _shape(clean)
    else:
        assert model.root == clean.root and model.root_properties == clean.root_properties
    if name == "not-utf8":  # the byte is kept, read as Latin-1, not replaced
        assert str(model.root_properties["IOKitBuildVersion"]).startswith("Darwin K\u00e9rnel")
    assert [d.reference for d in model.diagnostics] == [reference]


def test_redacted_values_are_dropped_or_kept_as_printed(mbp: tuple[bytes, MachineModel]) -> None:
    raw, clean = mbp
    model = parse_dump(_redact(raw))
    platform = model.root.properties
    assert str(platform["IOPlatformSerialNumber"]).endswith("****")
    assert not any("IOMACAddress" in nub.properties for _, nub in model.nubs())
    assert any("IOMACAddress" in nub.properties for _, nub in clean.nubs())
    assert platform.keys() == clean.root.properties.keys()


@pytest.mark.parametrize("cut", [_cut_mid_property, _cut_mid_entry_line])
def test_a_cut_off_real_dump_keeps_every_entry_before_the_cut(
        cut: Callable[[bytes], bytes], mbp: tuple[bytes, MachineModel]) -> None:
    raw, _ = mbp
    entry = _entry_line(raw, 0.6)
    before_cut = parse_dump(b"\n".join(_lines(raw)[:entry]) + b"\n")
    model = parse_dump(cut(raw))
    assert 100 < _entries(model) == _entries(before_cut)
    assert model.root == before_cut.root
    (truncated,) = model.diagnostics
    assert (truncated.reference, truncated.key) == ("ioreg-dump-truncated", f"line {entry + 1}")


def test_every_damage_at_once(mbp: tuple[bytes, MachineModel]) -> None:
    raw, clean = mbp
    damaged = raw
    for name in ("redacted", "not-utf8", "prompt-line", "tab-indented", "crlf"):
        damaged = DAMAGES[name][0](damaged)
    model = parse_dump(damaged, source="posted.txt")
    assert _entries(model) == _entries(clean)
    assert {d.reference for d in model.diagnostics} == {DAMAGES[name][1] for name in (
        "redacted", "not-utf8", "prompt-line", "tab-indented", "crlf")}


def test_strict_refuses_a_damaged_real_dump(mbp: tuple[bytes, MachineModel]) -> None:
    raw, _ = mbp
    with pytest.raises(IoregDumpInvalid) as info:
        parse_dump(_redact(raw), source="posted.txt", strict=True)
    assert info.value.diagnostic.key is not None
    assert info.value.diagnostic.key.startswith("line ")


def _entries(model: MachineModel) -> int:
    return sum(1 for _ in model.nubs())


def _shape(model: MachineModel) -> list[tuple[int, str, str | None, str | None, bool]]:
    return [(depth, nub.class_name, nub.name, nub.id, nub.recorded_driver)
            for depth, nub in model.nubs()]


def test_a_real_dump_whose_ids_were_all_edited_keeps_every_entry(
        mbp: tuple[bytes, MachineModel]) -> None:
    # Every id made the root's: the entries folded into the root and the import crashed.
    raw, clean = mbp
    model = parse_dump(re.sub(rb"id 0x[0-9a-f]+", b"id 0x100000100", raw), source="ids.txt")
    lines = raw.count(b"+-o ") - 1  # every entry line but the root's, re-prints included
    assert _entries(model) == lines >= _entries(clean)
    assert [d.reference for d in model.diagnostics] == ["ioreg-dump-bad-id"]


# -- fidelity: what `iokit ioreg --machine DUMP` prints of the dump's own entries -------------
#: Properties a booted model sets itself on the dump's entries, so not the Mac's: its power
#: management state, the HID idle clock, its user clients' creators, its console users, its
#: planes and allocation counters.
_OWN_KEYS = frozenset({"IOPowerManagement", "HIDIdleTime", "IOUserClientCreator",
                       "IOConsoleUsers", "IORegistryPlanes", "IOKitDiagnostics"})
_NODE_LINE = re.compile(r"^([ |]*)\+-o (.*?)  <class ")
_PROPERTY_LINE = re.compile(r'^[ |]*  "(.*?)" = (.*)$')


def _property_blocks(raw: bytes) -> dict[str, list[tuple[str, str]]]:
    """Each entry's ``"key" = value`` lines by the entry's path of names (a repeated name
    numbered), the lines read as the importer reads them."""
    blocks: dict[str, list[tuple[str, str]]] = {}
    path: list[str] = []
    seen: dict[str, int] = {}
    current: list[tuple[str, str]] = []
    for line in raw.split(b"\n"):
        text = _line_text(line)
        node = _NODE_LINE.match(text)
        if node:
            del path[len(node.group(1)) // 2:]
            name = "/".join([*path, node.group(2)])
            seen[name] = seen.get(name, 0) + 1
            path.append(f"{node.group(2)}#{seen[name]}")
            current = blocks.setdefault("/".join(path), [])
        elif (found := _PROPERTY_LINE.match(text)) is not None:
            current.append((found.group(1), found.group(2)))
    return blocks


def _line_text(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("utf-8", "surrogateescape")  # both sides alike: bytes compared


@pytest.mark.parametrize(("name", "options"), [
    ("khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt", []),
    ("khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IORegDT.txt",
     ["-x", "-p", "IODeviceTree"]),  # written by ioreg -x
    ("khronokernel__DarwinDumped__MacMini_MacMini3_1_IORegDump_IOReg.txt", []),  # not UTF-8
])
def test_ioreg_of_a_dump_prints_its_properties_as_the_mac_printed_them(
        corpus: Path, name: str, options: list[str]) -> None:
    dump = corpus / "ioreg" / name
    script = "import sys\nfrom iokit_host.cli import main\nsys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", script, "ioreg", "-lw0", *options, "--machine", str(dump)],
        capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    theirs, ours = _property_blocks(dump.read_bytes()), _property_blocks(done.stdout)
    compared = 0
    for path, lines in theirs.items():
        printed = dict(ours[path])  # every entry of the dump is in the model
        kept = [(key, value) for key, value in lines
                if key not in _OWN_KEYS and (key in printed or not looks_redacted(value))]
        assert [(key, printed.get(key)) for key, value in kept] == kept, path
        order = [key for key, _ in ours[path] if key in dict(kept)]
        assert order == [key for key, _ in kept], path  # in the order the Mac printed them
        compared += len(kept)
    assert compared > 1000
